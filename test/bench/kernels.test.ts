// The kernel benchmark runs at a tiny size in CI so that it cannot rot; no timing is asserted.
import { describe, expect, it } from 'vitest';
import { benchKernels } from '../../bench/kernels.js';
import { unetShapes } from '../../bench/unet-shapes.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

describe('UNet layer shapes', () => {
  it('follow the ResNet-34 UNet at 64x64', () => {
    const s = unetShapes(2, 64);
    const stem = s.convs[0]!.g;
    expect([stem.kh, stem.stride, stem.oh, stem.cout]).toEqual([7, 2, 32, 64]);
    expect([s.pool.oh, s.pool.c]).toEqual([16, 64]);
    // Deepest feature: 512 channels at 1/32 of the input.
    expect(s.upsamples[0]).toEqual({ n: 2, h: 2, w: 2, c: 512 });
    expect(s.concats.map((c) => [c.ca, c.cb, c.g.h])).toEqual([[512, 256, 4], [256, 128, 8], [128, 64, 16], [64, 64, 32]]);
    const head = s.convs[s.convs.length - 1]!.g;
    expect([head.cin, head.cout, head.hasBias, head.oh]).toEqual([16, 1, true, 64]);
    expect(() => unetShapes(1, 48)).toThrow(/multiple of 32/);
  });
});

describe('bench kernels', () => {
  it('prints a well-formed result for every op at a tiny size', async () => {
    const results = await benchKernels(ctx.gpu, { batch: 2, size: 32, timing: { iterations: 1, time: 0, warmup: 0 }, adamSize: 1000 });
    const ops = new Set(results.map((r) => r.op));
    for (const op of ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad', 'batchNormTrain', 'batchNormBackward', 'maxPool2d',
      'maxPool2dBackward', 'upsample2x', 'upsample2xBackward', 'concat', 'concatBackward', 'sigmoidBce', 'sigmoidBceBackward', 'adam']) {
      expect(ops, op).toContain(op);
    }
    for (const r of results) {
      expect(r.medianMs, `${r.op} ${r.shape}`).toBeGreaterThan(0);
      expect(Number.isFinite(r.gflops ?? r.gbps), `${r.op} ${r.shape}`).toBe(true);
    }
    // Every distinct conv shape is measured in all three passes.
    expect(results.filter((r) => r.op === 'conv2d').length).toBe(unetShapes(2, 32).convs.length);
  });
});
