// The TensorFlow.js peer benchmark runs at the smallest size on both of its backends so that it cannot
// rot; no timing is asserted. One step without warm-up: tfjs' CPU backend takes ~20 s for it, the WebGPU
// one ~10 s on lavapipe (mostly shader compilation).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchTfjs } from '../../bench/peers/tfjs.js';
import { UNET_PARAMETERS } from '../../src/model/unet.js';

describe('tfjs peer benchmark', () => {
  for (const backend of ['cpu', 'webgpu'] as const) {
    it(`trains and infers on tfjs-${backend}`, async () => {
      const r = await benchTfjs({ backend, batch: 1, size: 32, steps: 1, warmup: 0 });
      expect(r).toMatchObject({ impl: 'tfjs', backend, batch: 1, size: 32, steps: 1, parameters: UNET_PARAMETERS });
      for (const key of ['stepMs', 'trainImagesPerSecond', 'inferMs', 'inferImagesPerSecond'] as const) {
        expect(Number.isFinite(r[key]) && r[key] > 0, `${key} = ${r[key]}`).toBe(true);
      }
      // The BCE after one step on a fresh network.
      expect(Number.isFinite(r.finalLoss) && r.finalLoss > 0).toBe(true);
      if (backend === 'webgpu') expect(r.adapter).toBeTruthy();
    });
  }
});

describe('PyTorch peer benchmark', () => {
  // Python puts a script's folder first on sys.path: a file of ours named torch.py there would be what
  // the peer's `import torch` gets (it was, until this test), and the benchmark could never run.
  it("imports PyTorch, not a file of bench/peers, from the script's folder", ({ skip }) => {
    const probe = "import sys, importlib.util as u; sys.path.insert(0, 'bench/peers'); s = u.find_spec('torch'); print(s.origin if s else 'absent')";
    const r = spawnSync('python3', ['-c', probe], { encoding: 'utf8' });
    if (r.error) skip('no python3 here');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).not.toMatch(/bench\/peers/);
    expect(existsSync('bench/peers/torch_peer.py')).toBe(true);
  });
});
