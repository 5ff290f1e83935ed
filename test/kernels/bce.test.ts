import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import type { BceGeometry } from '../../src/core/geometry.js';
import { sizeOf } from '../../src/core/geometry.js';
import { type Rng, rng, uniform } from '../../src/util/random.js';
import { expectClose, readScoped, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

/** As src/kernels/bce.ts: pixels one forward invocation sums, and the chunk of the partials' reduction. */
const CHUNK = 512;
/**
 * Roundings of one element: exp within (3 + 2|x|) ulp of u = e^-|x|, which moves log(1 + u) by at most
 * u (3 + 2|x|) <= 4 ulp; about 5 in the log1p series; x t, the subtraction, the add of log1p, times w.
 */
const ELEMENT_ROUNDINGS = 12;

/**
 * Forward: each invocation sums at most CHUNK terms, the n * splits partials are summed in chunks of
 * CHUNK and then their partial sums; sum_i w_i takes n; every bce term is >= 0, so each rounding is
 * within 2^-24 of a sum <= the magnitude.
 */
function forwardRoundings(g: BceGeometry): number {
  const splits = Math.ceil(g.perSample / CHUNK);
  const partials = g.n * splits;
  return Math.ceil(g.perSample / splits) + Math.min(partials, CHUNK) + Math.ceil(partials / CHUNK) + g.n + ELEMENT_ROUNDINGS;
}

/** Backward: sigmoid within ~6 ulp (as above, plus 1 + e and the division), sum_i w_i n, 5 more products. */
const backwardRoundings = (g: BceGeometry): number => g.n + ELEMENT_ROUNDINGS;

interface Problem {
  g: BceGeometry;
  logits: Float32Array;
  targets: Float32Array;
  weights: Float32Array;
}

/** Logits in [-6, 6), hard targets with some soft ones, weights in [0, 2) with one 0 when n > 1. */
function problem(shape: number[], r: Rng): Problem {
  const n = shape[0]!;
  const size = sizeOf(shape);
  const logits = uniform(r, size, -6, 6);
  const targets = uniform(r, size, 0, 1).map((t, i) => (i % 3 === 0 ? t : Math.round(t)));
  const weights = uniform(r, n, 0, 2);
  if (n > 1) weights[1] = 0;
  return { g: { n, perSample: size / n }, logits, targets, weights };
}

const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);

async function gpuForward(p: Problem): Promise<number> {
  const loss = K.sigmoidBce(ctx.be, ctx.be.upload(p.logits), ctx.be.upload(p.targets), ctx.be.upload(p.weights), p.g);
  return (await ctx.be.download(loss, 1))[0]!;
}

async function gpuBackward(p: Problem, dloss: number): Promise<Float64Array> {
  const dx = K.sigmoidBceBackward(ctx.be, ctx.be.upload(p.logits), ctx.be.upload(p.targets), ctx.be.upload(p.weights), ctx.be.upload([dloss]), p.g);
  return ctx.be.download(dx, p.logits.length);
}

async function compare(p: Problem, dloss: number): Promise<void> {
  const [x, t, w] = [f64(p.logits), f64(p.targets), f64(p.weights)];
  const loss = await gpuForward(p);
  const ref = K.sigmoidBce(ctx.cpu, x, t, w, p.g);
  // With t' = -sign(x)|t|, bce(x, t') = max(x, 0) + |x t| + log1p(e^-|x|): the sum of |terms|.
  const tMag = t.map((v, i) => -Math.sign(x[i]!) * Math.abs(v));
  const mag = K.sigmoidBce(ctx.cpu, x, tMag, w, p.g);
  expectClose([loss], ref, mag, forwardRoundings(p.g), 'loss');

  const dx = await gpuBackward(p, dloss);
  expect(dx.every(Number.isFinite), 'dlogits finite').toBe(true);
  const dref = K.sigmoidBceBackward(ctx.cpu, x, t, w, Float64Array.of(dloss), p.g);
  // sigmoid(x) - (-|t|) = sigmoid(x) + |t|: the magnitude of the difference, scaled alike.
  const dmag = K.sigmoidBceBackward(ctx.cpu, x, t.map((v) => -Math.abs(v)), w, Float64Array.of(Math.abs(dloss)), p.g);
  expectClose(dx, dref, dmag, backwardRoundings(p.g), 'dlogits');
}

// Batch 1 and 3, odd sizes, and samples longer than one chunk (several interleaved partials each).
const CASES: number[][] = [
  [3, 13, 11, 1],
  [1, 7, 9, 1],
  [4, 32, 32, 1],
  [2, 1, 1, 1],
  [3, 37, 41, 1],
  [5, 3001],
];

describe('sigmoidBce against the reference', () => {
  for (const shape of CASES) {
    it(`forward and backward ${JSON.stringify(shape)}`, () => compare(problem(shape, rng(sizeOf(shape))), -0.7));
  }

  it('is finite and right for logits of +-1e4, +-100 and 0 with targets 0, 1 and 0.25', async () => {
    const xs = [1e4, -1e4, 100, -100, 0];
    const ts = [0, 1, 0.25];
    const logits = Float32Array.from({ length: 3 * 15 }, (_, k) => xs[k % 5]!);
    const targets = Float32Array.from({ length: 3 * 15 }, (_, k) => ts[Math.floor(k / 5) % 3]!);
    const p: Problem = { g: { n: 3, perSample: 15 }, logits, targets, weights: Float32Array.of(0.5, 0, 2) };
    const loss = await gpuForward(p);
    expect(Number.isFinite(loss)).toBe(true);
    // Far out the loss is |x| where the target disagrees (1e4 - 0 and 1e4 * 0.75): exact in float32.
    await compare(p, 1.3);
    const dx = await gpuBackward(p, 1);
    // sigmoid(+-1e4) is exactly 1 or 0: a hard target it agrees with gets no gradient at all.
    expect(dx[1 * 5 + 0]).toBe(0); // x = 1e4, t = 1
    expect(dx[0 * 5 + 1]).toBe(0); // x = -1e4, t = 0
  });

  it('checks buffer sizes against the geometry before dispatching', () => {
    const x = ctx.be.upload(new Float32Array(10));
    const w = ctx.be.upload([1, 1]);
    expect(() => K.sigmoidBce(ctx.be, x, x, w, { n: 2, perSample: 6 })).toThrow(/logits holds 10 elements.*\[2, 6\] needs 12/);
    expect(() => K.sigmoidBce(ctx.be, x, x, w, { n: 3, perSample: 3 })).toThrow(/weights holds 2 elements/);
  });
});

describe('sigmoidBce gradient (float64 finite differences on the reference)', () => {
  it.each([
    [[3, 4, 5], [1.5, 0, 0.25]],
    [[1, 7, 3], [2]],
  ])('logits %j, weights %j', (shape, weights) => {
    const r = rng(99);
    const size = sizeOf(shape);
    const targets = uniform(r, size, 0, 1).map((t, i) => (i % 2 ? t : Math.round(t)));
    const res = gradcheck((x, t, w) => F.sigmoidBce(x!, t!, w!), [
      { values: uniform(r, size, -4, 4), shape },
      { values: targets, shape, grad: false },
      { values: weights, shape: [weights.length], grad: false },
    ], { maxChecks: size });
    expect(res.ok, res.detail).toBe(true);
    expect(res.checked).toBe(size);
  });
});

describe('GPU backward against the reference backward, through the tape', () => {
  it('F.sigmoidBce [3, 13, 11, 1]', async () => {
    const shape = [3, 13, 11, 1];
    const p = problem(shape, rng(7));
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const x = Tensor.from(backend, p.logits, shape, true);
        const loss = F.sigmoidBce(x, Tensor.from(backend, p.targets, shape), Tensor.from(backend, p.weights, [3]));
        expect(loss.shape).toEqual([]);
        loss.backward(Tensor.from(backend, [0.6], []));
        return [loss, x.grad!];
      }) as Promise<[Float64Array, Float64Array]>;
    const [loss, dx] = await run(ctx.be);
    const [refLoss, refDx] = await run(ctx.cpu);
    expectClose(loss, refLoss, refLoss.map(Math.abs), forwardRoundings(p.g), 'loss');
    const dmag = K.sigmoidBceBackward(ctx.cpu, f64(p.logits), f64(p.targets).map((v) => -v), f64(p.weights), Float64Array.of(0.6), p.g);
    expectClose(dx, refDx, dmag, backwardRoundings(p.g), 'dlogits');
  });
});

describe('sigmoidBce on more than 16.8 million logits', () => {
  it('[2, 8400001]: a 2-D backward grid and a three-pass forward reduction', async () => {
    const shape = [2, 8_400_001];
    expect(sizeOf(shape)).toBeGreaterThan(2 ** 24);
    expect(sizeOf(shape)).toBeGreaterThan(65535 * 256);
    const p = problem(shape, rng(3));
    p.weights[1] = 0.3;
    await compare(p, 0.9);
  });
});
