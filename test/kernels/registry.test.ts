// The registry of tuned conv kernels (src/kernels/conv/index.ts): every kernel described under its own
// name, each descriptor consistent with itself on this adapter. (tuneConvLayer, which runs over the
// descriptors, is tested with the candidate lists in convTuning.test.ts.)
import { describe, expect, it } from 'vitest';
import { type Conv2dGeometry, conv2dGeometry } from '../../src/core/geometry.js';
import { shaderHash } from '../../src/gpu/pipelines.js';
import { TuningTable } from '../../src/gpu/tuning.js';
import { CONV_KERNELS, TUNED_CONV_KERNELS } from '../../src/kernels/conv/index.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

describe('the registry of tuned conv kernels', () => {
  const layers = [conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 1, 1, false), conv2dGeometry([1, 7, 9, 5], [3, 3, 5, 7], 2, 1, true)];
  it('describes every kernel under its own name: key from its shaders, default first among its candidates, each candidate readable back from a tuning file', () => {
    expect(Object.keys(TUNED_CONV_KERNELS).sort()).toEqual([...CONV_KERNELS].sort());
    for (const name of CONV_KERNELS) {
      const k = TUNED_CONV_KERNELS[name];
      expect(k.name).toBe(name);
      for (const g of layers) {
        expect(k.key(g)).toBe(TuningTable.key(name, shaderHash(k.shaders), g));
        const candidates = k.candidates(ctx.gpu, g) as unknown[];
        expect(candidates[0]).toEqual(k.defaultVariant(ctx.gpu, g));
        const refined = (k.refine as ((gpu: typeof ctx.gpu, g: Conv2dGeometry, v: unknown) => unknown[]) | undefined)?.(ctx.gpu, g, candidates[0]) ?? [];
        for (const c of [...candidates, ...refined]) {
          expect((k.problem as (gpu: typeof ctx.gpu, g: Conv2dGeometry, v: unknown) => string | null)(ctx.gpu, g, c), `${name} ${JSON.stringify(c)}`).toBeNull();
          // Read back as written: the same fields in the same order (the tuner's dedup compares JSON).
          expect(JSON.stringify(k.parse(ctx.gpu, g, JSON.parse(JSON.stringify(c)))), name).toBe(JSON.stringify(c));
        }
        expect(k.parse(ctx.gpu, g, { kind: 'register', tm: 'eight', nv: 1, wg: 64 })).toBeNull();
        expect(k.parse(ctx.gpu, g, { kind: 'tiled', tm: 8, nv: 1, wg: 64 })).toBeNull();
        expect(k.parse(ctx.gpu, g, { tm: 8, nv: 1, wg: 64 })).toBeNull();
        expect(k.parse(ctx.gpu, g, null)).toBeNull();
      }
    }
  });

  it("reads a variant of another kernel's kind as nothing", () => {
    const stride1 = layers[0]!;
    const forward = { kind: 'workgroup', wx: 16, wy: 16, tm: 4, nv: 1, bk: 16 };
    const viaForward = { kind: 'viaForward', forward };
    expect(TUNED_CONV_KERNELS.conv2dInputGrad.parse(ctx.gpu, stride1, viaForward)).toEqual(viaForward);
    expect(TUNED_CONV_KERNELS.conv2d.parse(ctx.gpu, stride1, viaForward)).toBeNull();
    expect(TUNED_CONV_KERNELS.conv2dInputGrad.parse(ctx.gpu, stride1, forward)).toBeNull();
    expect(TUNED_CONV_KERNELS.conv2d.parse(ctx.gpu, stride1, forward)).toEqual(forward);
    const split = { kind: 'register', tm: 2, nv: 2, wg: 64, targetInvocations: 4096 };
    expect(TUNED_CONV_KERNELS.conv2dWeightGrad.parse(ctx.gpu, stride1, split)).toEqual(split);
    expect(TUNED_CONV_KERNELS.conv2d.parse(ctx.gpu, stride1, split)).toBeNull();
  });
});
