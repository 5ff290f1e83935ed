import { describe, expect, it } from 'vitest';
import { F, gradcheck } from '../../src/autograd/index.js';
import { sizeOf } from '../../src/core/geometry.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

// Contiguous and split runs of axes, all axes, size-1 axes, long reductions (chunked twice).
const CASES: [number[], number[]][] = [
  [[7], [0]],
  [[13, 11], [0]],
  [[13, 11], [1]],
  [[3, 7, 9, 5], [0, 1, 2]],
  [[3, 7, 9, 5], [0, 2]],
  [[3, 7, 9, 5], [0, 1, 2, 3]],
  [[2, 1, 3], [1]],
  [[4, 300, 301], [1, 2]],
  [[1, 600_000], [1]],
];

describe('reduceSum against the reference', () => {
  for (const [shape, axes] of CASES) {
    it(`sum ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`, async () => {
      const x = uniform(rng(shape.length * 31 + axes.length), sizeOf(shape));
      const got = K.reduceSum(ctx.be, ctx.be.upload(x), shape, axes);
      const outSize = sizeOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
      const gpu = await ctx.be.download(got, outSize);
      const ref = K.reduceSum(ctx.cpu, Float64Array.from(x), shape, axes);
      const mag = K.reduceSum(ctx.cpu, Float64Array.from(abs(x)), shape, axes);
      // Sequential chunks of at most 512 adds, then sums of partial sums: a sum of K terms carries
      // at most about (512 + K / 512) roundings of the running |sum| <= sum |terms|.
      const k = sizeOf(axes.map((a) => shape[a]!));
      expectClose(gpu, ref, mag, Math.min(k, 512 + Math.ceil(k / 512)), 'sum');
    });
  }

  it('sum over 17,000,000 elements (2-D grid, three passes)', async () => {
    const n = 17_000_000;
    const x = new Float32Array(n).fill(1);
    // Every partial sum is an even integer below 2^25, so float32 holds each exactly.
    x[n - 1] = 1001;
    const gpu = await ctx.be.download(K.reduceSum(ctx.be, ctx.be.upload(x), [n], [0]), 1);
    expect(gpu[0]).toBe(n + 1000);
  });
});

describe('sum and mean gradients', () => {
  it.each([
    [[3, 4, 5], [1]],
    [[3, 4, 5], [0, 2]],
    [[3, 4, 5], undefined],
  ] as const)('sum %j over %j', (shape, axes) => {
    const res = gradcheck((x) => F.sum(x!, axes ? [...axes] : undefined), [{ values: uniform(rng(3), sizeOf(shape)), shape }]);
    expect(res.ok, res.detail).toBe(true);
  });

  it('mean keepDims', () => {
    const res = gradcheck((x) => F.mean(x!, [0, 2], true), [{ values: uniform(rng(4), 60), shape: [3, 4, 5] }]);
    expect(res.ok, res.detail).toBe(true);
  });
});
