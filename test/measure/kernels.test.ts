// The kernel benchmark runs at a tiny size in CI so that it cannot rot; no timing is asserted.
import { describe, expect, it } from 'vitest';
import { benchKernels } from '../../src/measure/kernels.js';
import { unetShapes } from '../../src/model/unet-shapes.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

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
    // Each conv result carries its layer's geometry and count, for the PyTorch peer (bench/vs-torch.ts),
    // and its GFLOP/s follows from them: 2 * n * oh * ow * cout * kh * kw * cin over the median time.
    for (const { name, g, count } of unetShapes(2, 32).convs) {
      for (const r of results.filter((x) => x.layer === name && x.op.startsWith('conv2d'))) {
        expect(r.conv).toEqual({ n: g.n, h: g.h, w: g.w, cin: g.cin, cout: g.cout, kh: g.kh, kw: g.kw, stride: g.stride, pad: g.pad });
        expect(r.count).toBe(count);
        expect(r.gflops).toBeCloseTo((2 * g.n * g.oh * g.ow * g.cout * g.kh * g.kw * g.cin) / (r.medianMs / 1e3) / 1e9, 6);
      }
    }
  });
});
