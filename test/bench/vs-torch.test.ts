// The side-by-side benchmark against PyTorch on the CPU (issue 29): its arithmetic by hand, and the peer's
// per-layer mode run for real on a small layer (no timing is asserted, only what the numbers must obey).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { KernelResult } from '../../src/measure/kernels.js';
import { TARGETS, compareConfig, findPython, joinLayers, parseConfigs, totalsByOp } from '../../bench/vs-torch.js';

describe('bench:torch arithmetic', () => {
  it('takes medians over the rounds and reports ours as a share of PyTorch\'s speed, against the targets', () => {
    const r = compareConfig(
      2,
      128,
      [{ stepMs: 1000, inferMs: 300 }, { stepMs: 1200, inferMs: 400 }, { stepMs: 1100, inferMs: 350 }],
      [{ stepMs: 400, inferMs: 110 }, { stepMs: 500, inferMs: 100 }, { stepMs: 450, inferMs: 105 }],
    );
    expect(r.ours).toMatchObject({ stepMs: 1100, inferMs: 350 });
    expect(r.torch).toMatchObject({ stepMs: 450, inferMs: 105 });
    expect(r.speed.train).toBeCloseTo(450 / 1100, 12);
    expect(r.speed.infer).toBeCloseTo(0.3, 12);
    expect(TARGETS).toEqual({ train: 0.5, infer: 0.3 });
    // 0.41 < 0.5: not met; exactly 0.3: met.
    expect(r.met).toEqual({ train: false, infer: true });
  });

  const ours = (op: string, layer: string, medianMs: number, count: number): KernelResult => ({
    op, layer, shape: 's', medianMs, gflops: 1 / medianMs, samples: 3, count,
  });
  const torch = [
    { layer: 'a', op: 'conv2d', ms: 1, gflops: 10 },
    { layer: 'a', op: 'conv2dWeightGrad', ms: 2, gflops: 5 },
    { layer: 'a', op: 'matmul', ms: 0.5, gflops: 20 },
    { layer: 'b', op: 'conv2d', ms: 3, gflops: 7 },
    { layer: 'b', op: 'matmul', ms: 2, gflops: 9 },
  ];

  it('joins each layer and op with PyTorch\'s, weighs the gap by how often the network has the layer, and sums per op', () => {
    const rows = joinLayers([ours('conv2d', 'a', 4, 3), ours('conv2dWeightGrad', 'a', 5, 3), ours('conv2d', 'b', 6, 1), ours('batchNormTrain', 'a', 9, 1)], torch);
    expect(rows.map((r) => [r.layer, r.op, r.torchMs, r.rooflineGflops, r.speed, r.gapMs])).toEqual([
      ['a', 'conv2d', 1, 20, 0.25, 3 * (4 - 1)],
      ['a', 'conv2dWeightGrad', 2, 20, 0.4, 3 * (5 - 2)],
      ['b', 'conv2d', 3, 9, 0.5, 6 - 3],
    ]);
    const totals = totalsByOp(rows);
    // conv2d: ours 3*4 + 6 = 18 ms, PyTorch 3*1 + 3 = 6 ms.
    expect(totals.conv2d).toEqual({ oursMs: 18, torchMs: 6, speed: 6 / 18 });
    expect(totals.conv2dWeightGrad).toEqual({ oursMs: 15, torchMs: 6, speed: 0.4 });
  });

  it('names the layer and op the peer lacks', () => {
    expect(() => joinLayers([ours('conv2dInputGrad', 'b', 1, 1)], torch)).toThrow("the PyTorch peer has no conv2dInputGrad for layer 'b'");
  });

  it('reads --configs and refuses what is not BATCHxSIZE', () => {
    expect(parseConfigs('2x128, 8x64')).toEqual([{ batch: 2, size: 128 }, { batch: 8, size: 64 }]);
    expect(() => parseConfigs('2x100')).toThrow("--configs: '2x100' is not BATCHxSIZE");
    expect(() => parseConfigs('0x64')).toThrow(/'0x64'/);
    expect(() => parseConfigs('128')).toThrow(/'128'/);
  });
});

describe('the PyTorch peer, one conv layer at a time', () => {
  const python = findPython();
  const peer = (input: string, ...args: string[]) =>
    spawnSync(python!, ['bench/peers/torch_peer.py', '--layers', '-', ...args], { input, encoding: 'utf8', timeout: 120_000 });

  it('times forward, both gradients and the GEMM of a layer; the rates follow from 2*M*N*K and the times', () => {
    expect(python, 'scripts/install-torch.sh installs python3-torch').not.toBeNull();
    // 2x10x10x8 -> 16, 3x3/2 with padding 1: oh = ow = 5, M = 2*5*5 = 50, K = 9*8 = 72.
    const layer = { layer: 'probe 3x3/2', n: 2, h: 10, w: 10, cin: 8, cout: 16, kh: 3, kw: 3, stride: 2, pad: 1 };
    const r = peer(JSON.stringify([layer]), '--threads', '2');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ impl: 'torch', backend: 'cpu', threads: 2 });
    expect(out.layers.map((l: { op: string }) => l.op)).toEqual(['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad', 'matmul']);
    for (const l of out.layers) {
      expect(l).toMatchObject({ layer: 'probe 3x3/2', m: 50, n: 16, k: 72, flops: 2 * 50 * 16 * 72 });
      expect(l.ms).toBeGreaterThan(0);
      expect(l.gflops).toBeCloseTo(l.flops / (l.ms / 1e3) / 1e9, 6);
    }
  });

  it('refuses a malformed layer list in one line naming it, exit 2', () => {
    expect(python).not.toBeNull();
    for (const [input, message] of [
      ['[{"layer": "x", "n": 1}]', /^torch_peer\.py: --layers -: layer 0 lacks h, w, cin, cout, kh, kw, stride, pad$/],
      ['[]', /expected a non-empty JSON list/],
      ['[{"layer": "x", "n": 1, "h": 4, "w": 4, "cin": 0, "cout": 1, "kh": 1, "kw": 1, "stride": 1, "pad": 0}]', /layer 0 \(x\): sizes must be positive/],
      ['not json', /^torch_peer\.py: --layers -: /],
    ] as const) {
      const r = peer(input);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
    }
  });
});
