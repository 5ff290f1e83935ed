// The TensorFlow.js peer benchmark runs at the smallest size on both of its backends so that it cannot
// rot; no timing is asserted. One step without warm-up: tfjs' CPU backend takes ~20 s for it, the WebGPU
// one ~10 s on lavapipe (mostly shader compilation).
import { describe, expect, it } from 'vitest';
import { UNET_PARAMETERS, benchTfjs } from '../../bench/peers/tfjs.js';

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
