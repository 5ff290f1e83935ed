import { describe, expect, it } from 'vitest';
import type { BinaryOp } from '../../src/core/types.js';
import type { UnaryOp } from '../../src/kernels/elementwise.js';
import { broadcastShapes, sizeOf } from '../../src/core/geometry.js';
import { F, Tensor, gradcheck, scope } from '../../src/autograd/index.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

// Shapes: same, broadcasting on either side and on inner/outer/middle axes, odd sizes, scalars.
const BINARY_CASES: [number[], number[]][] = [
  [[7], [7]],
  [[13, 11], [13, 11]],
  [[3, 7, 9, 5], [5]],
  [[3, 7, 9, 5], [3, 1, 1, 5]],
  [[1, 9, 1], [4, 1, 6]],
  [[2, 3, 4, 5, 6, 7], [1, 3, 1, 5, 1, 7]],
  [[5, 1], []],
];

describe('binary ops against the reference', () => {
  for (const op of ['add', 'sub', 'mul', 'div'] as BinaryOp[]) {
    for (const [sa, sb] of BINARY_CASES) {
      it(`${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, async () => {
        const r = rng(sizeOf(sa) + sizeOf(sb));
        const a = uniform(r, sizeOf(sa));
        // Divisors kept away from zero: [0.5, 1.5) with a random sign.
        const b = op === 'div' ? uniform(r, sizeOf(sb), 0.5, 1.5).map((v, i) => (i % 2 ? -v : v)) : uniform(r, sizeOf(sb));
        const out = broadcastShapes(sa, sb);
        const gpu = await ctx.be.download(K.binary(ctx.be, op, ctx.be.upload(a), sa, ctx.be.upload(b), sb, out), sizeOf(out));
        const ref = K.binary(ctx.cpu, op, Float64Array.from(a), sa, Float64Array.from(b), sb, out);
        // One rounding of an exact operation: error <= 2^-24 |result| <= 2^-23 (|a|+|b|) or |a*b|
        // or |a/b|; WGSL allows division 2.5 ulp, hence c = 3 there.
        const magOp = op === 'mul' || op === 'div' ? op : 'add';
        const mag = K.binary(ctx.cpu, magOp, Float64Array.from(abs(a)), sa, Float64Array.from(abs(b)), sb, out);
        expectClose(gpu, ref, mag, op === 'div' ? 3 : 1, op);
      });
    }
  }
});

describe('unary ops against the reference', () => {
  const cases: [UnaryOp, number, number][] = [
    ['relu', -1, 1],
    ['relu', -1e30, 1e30],
    ['sigmoid', -60, 60],
    ['sigmoid', -1, 1],
  ];
  for (const [op, lo, hi] of cases) {
    it(`${op} on 1001 values in [${lo}, ${hi})`, async () => {
      const x = uniform(rng(7), 1001, lo, hi);
      const gpu = await ctx.be.download(K.unary(ctx.be, op, ctx.be.upload(x), x.length), x.length);
      const ref = K.unary(ctx.cpu, op, Float64Array.from(x), x.length);
      // relu is exact (within 1 ulp of float32 rounding of the input); sigmoid goes through the driver's
      // exp, whose error WGSL bounds by 3 + 2|x| ulp: c = 3 + 2 * 60 covers it.
      const c = op === 'sigmoid' ? 3 + 2 * Math.max(-lo, hi) : 1;
      expectClose(gpu, ref, Float64Array.from(ref, Math.abs), c, op, 1e-37);
      expect(gpu.every(Number.isFinite)).toBe(true);
    });
  }

  it('scale and reluGrad', async () => {
    const x = uniform(rng(8), 517);
    const dy = uniform(rng(9), 517);
    const s = await ctx.be.download(K.scale(ctx.be, ctx.be.upload(x), -0.37, 517), 517);
    expectClose(s, K.scale(ctx.cpu, Float64Array.from(x), -0.37, 517), abs(x), 1, 'scale');
    const g = await ctx.be.download(K.reluGrad(ctx.be, ctx.be.upload(x), ctx.be.upload(dy), 517), 517);
    expect(Array.from(g)).toEqual(Array.from(K.reluGrad(ctx.cpu, Float64Array.from(x), Float64Array.from(dy), 517)));
  });
});

describe('elementwise on more than 16.8 million elements (2-D dispatch grid)', () => {
  it('add of 17,000,003 elements reaches the last one', async () => {
    const n = 17_000_003;
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = i % 1000;
      b[i] = (i * 7) % 13;
    }
    const gpu = await ctx.be.download(K.binary(ctx.be, 'add', ctx.be.upload(a), [n], ctx.be.upload(b), [n], [n]), n);
    for (const i of [0, 1, 65535 * 256 - 1, 65535 * 256, 16_777_216, n - 2, n - 1]) {
      expect(gpu[i], `element ${i}`).toBe(a[i]! + b[i]!);
    }
    let bad = 0;
    for (let i = 0; i < n; i++) if (gpu[i] !== a[i]! + b[i]!) bad++;
    expect(bad).toBe(0);
  });
});

describe('gradients (float64 finite differences on the reference)', () => {
  const r = rng(42);
  it.each([
    ['add', F.add],
    ['sub', F.sub],
    ['mul', F.mul],
    ['div', F.div],
  ] as const)('%s with broadcasting', (_name, f) => {
    const res = gradcheck((a, b) => f(a!, b!), [
      { values: uniform(r, 3 * 4 * 5), shape: [3, 4, 5] },
      { values: uniform(r, 4 * 1, 0.5, 1.5), shape: [4, 1] },
    ]);
    expect(res.ok, res.detail).toBe(true);
  });

  it('relu away from the kink', () => {
    const x = uniform(r, 50).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const res = gradcheck((a) => F.relu(a!), [{ values: x, shape: [5, 10] }]);
    expect(res.ok, res.detail).toBe(true);
  });

  it('sigmoid', () => {
    const res = gradcheck((a) => F.sigmoid(a!), [{ values: uniform(r, 20, -6, 6), shape: [4, 5] }]);
    expect(res.ok, res.detail).toBe(true);
  });

  it('scale', () => {
    const res = gradcheck((a) => F.scale(a!, 2.5), [{ values: uniform(r, 12), shape: [3, 4] }]);
    expect(res.ok, res.detail).toBe(true);
  });

  it('a wrong backward is caught', () => {
    // The check must be able to fail: x * x through mul gives 2x; pretend it is x.
    const res = gradcheck((a) => F.mul(a!, a!.reshape(a!.shape)), [{ values: uniform(r, 6), shape: [6] }]);
    expect(res.ok, res.detail).toBe(true);
    const wrong = gradcheck((a) => scope(() => F.mul(a!, Tensor.from(a!.backend, (a!.data as Float64Array).slice(), a!.shape))), [
      { values: uniform(r, 6), shape: [6] },
    ]);
    expect(wrong.ok).toBe(false);
  });
});

describe('GPU backward against the reference backward', () => {
  it('mul with broadcasting: both gradients', async () => {
    const r = rng(5);
    const sa = [4, 7, 3];
    const sb = [7, 1];
    const a = uniform(r, sizeOf(sa));
    const b = uniform(r, sizeOf(sb));
    const dy = uniform(r, sizeOf(sa));
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const ta = Tensor.from(backend, a, sa, true);
        const tb = Tensor.from(backend, b, sb, true);
        F.mul(ta, tb).backward(Tensor.from(backend, dy, sa));
        return [ta.grad!, tb.grad!];
      });
    const [ga, gb] = await run(ctx.be);
    const [ra, rb] = await run(ctx.cpu);
    expectClose(ga!, ra!, K.binary(ctx.cpu, 'mul', Float64Array.from(abs(dy)), sa, Float64Array.from(abs(b)), sb, sa), 1, 'da');
    // db sums 4 * 3 products per element: at most 12 roundings.
    const magB = K.reduceSum(ctx.cpu, K.binary(ctx.cpu, 'mul', Float64Array.from(abs(dy)), sa, Float64Array.from(abs(a)), sa, sa), sa, [0, 2]);
    expectClose(gb!, rb!, magB, 13, 'db');
  });
});
