import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import { type Rng, rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, recordDispatches, uploadAt, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

/** F.l2Normalize's default, as PyTorch's F.normalize. */
const EPS = 1e-12;
/** WGSL bounds f32 division by 2.5 ulp (an ulp of v is at most 2^-23 |v|, so k ulp is c = k). */
const DIV_ULP = 2.5;
/** WGSL's sqrt is inherited from 1 / inverseSqrt: 2 ulp, then the division's 2.5. */
const SQRT_ULP = 4.5;
/**
 * Absolute floor of the comparisons: float32's smallest normal, below expectClose's default of 1e-30,
 * so that the gradients of the 1e30 rows (about 1e-31) are compared too.
 */
const FLOOR = 2 ** -126;
/** One correctly rounded operation: half an ulp (eps to float32, a product, a subtraction). */
const ROUNDING = 0.5;

/**
 * ||x|| of a row: the power-of-two scaling is exact; dim squares and dim - 1 additions of positive
 * terms each round within 2^-24 of the sum, so the sum is within dim * 2^-24 relative (dim / 2 in units
 * of 2^-23), which the square root halves, and adds its own.
 */
const normRoundings = (dim: number): number => dim / 4 + SQRT_ULP;
/** y = x / ||x|| (the norm's error and the division), or x / eps (eps to float32 and the division). */
const forwardRoundings = (dim: number): number => Math.max(normRoundings(dim) + DIV_ULP, ROUNDING + DIV_ULP);
/**
 * dx from the same dy, y and n: <dy, y> is within dim * 2^-24 of D = sum |dy y|; the product y <dy, y>,
 * the subtraction and the division; relative to M = (|dy| + |y| D) / n, or |dy| / eps when clamped.
 */
const backwardRoundings = (dim: number): number => dim / 2 + 2 * ROUNDING + DIV_ULP;

/** Row r of `x` set from f(k): k the index in the row. */
function setRow(x: Float32Array, dim: number, r: number, f: (k: number) => number): void {
  for (let k = 0; k < dim; k++) x[r * dim + k] = f(k);
}

/**
 * Values in [-1, 1), and when there are rows enough: a row of zeros, one of norm below EPS, one of
 * +-[1e18, 2e18) (squares up to 4e36, whose sum overflows float32 from 85 of them), one of +-1e30 (every
 * square overflows), one 1e18 among values of 1 (the others' squares vanish beside it).
 */
function input(rows: number, dim: number, r: Rng): Float32Array {
  const x = uniform(r, rows * dim);
  const sign = (): number => (r() < 0.5 ? -1 : 1);
  if (rows < 6) return x;
  setRow(x, dim, 0, () => 0);
  setRow(x, dim, 1, () => 1e-14 * sign() * (1 + r()));
  setRow(x, dim, 2, () => 1e18 * sign() * (1 + r()));
  setRow(x, dim, 3, () => 1e30 * sign() * (1 + r()));
  setRow(x, dim, 4, (k) => (k === dim >> 1 ? 1e18 : sign()));
  return x;
}

const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);
const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);

/** |dy| / max(n, eps) + |y| sum_k |dy_k y_k| / n per element: what each dx is made of (see backwardRoundings). */
function backwardMagnitude(dy: ArrayLike<number>, y: ArrayLike<number>, norm: ArrayLike<number>, rows: number, dim: number, eps: number): Float64Array {
  const mag = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const n = norm[r]!;
    let d = 0;
    for (let k = r * dim; k < (r + 1) * dim; k++) d += Math.abs(dy[k]! * y[k]!);
    for (let k = r * dim; k < (r + 1) * dim; k++) {
      mag[k] = n > eps ? (Math.abs(dy[k]!) + Math.abs(y[k]!) * d) / n : Math.abs(dy[k]!) / eps;
    }
  }
  return mag;
}

/** GPU forward and backward against the reference, each from the same float32 inputs. */
async function compare(x: Float32Array, rows: number, dim: number, eps: number, r: Rng): Promise<void> {
  const { be, cpu } = ctx;
  const fwd = K.l2Normalize(be, be.upload(x), rows, dim, eps);
  const y = await be.download(fwd.y, rows * dim);
  const norm = await be.download(fwd.norm, rows);
  const ref = K.l2Normalize(cpu, f64(x), rows, dim, eps);
  expect(y.every(Number.isFinite), 'y finite').toBe(true);
  expectClose(norm, ref.norm, ref.norm, normRoundings(dim), 'norm', FLOOR);
  expectClose(y, ref.y, abs(ref.y), forwardRoundings(dim), 'y', FLOOR);

  // The backward's own error: both sides get the reference's y and norm as float32.
  const dy = uniform(r, rows * dim);
  const [y32, n32] = [f32(ref.y), f32(ref.norm)];
  const dx = await be.download(K.l2NormalizeBackward(be, be.upload(dy), be.upload(y32), be.upload(n32), rows, dim, eps), rows * dim);
  const dref = K.l2NormalizeBackward(cpu, f64(dy), f64(y32), f64(n32), rows, dim, eps);
  expect(dx.every(Number.isFinite), 'dx finite').toBe(true);
  expectClose(dx, dref, backwardMagnitude(dy, y32, n32, rows, dim, eps), backwardRoundings(dim), 'dx', FLOOR);
}

/** [rows, dim]: every dim of the brief, single rows and about 5,000 of them, odd dims on the scalar path. */
const CASES: [number, number][] = [
  [1, 1],
  [4999, 1],
  [2, 3],
  [301, 3],
  [1, 4],
  [4096, 4],
  [33, 7],
  [2048, 64],
  [129, 128],
  [5003, 128],
  [1, 256],
  [517, 256],
  [6, 512],
  [1000, 512],
];

const path = (dim: number): string => (dim % 4 === 0 ? 'vec4' : 'scalar');

describe('l2Normalize against the reference', () => {
  for (const [rows, dim] of CASES) {
    it(`forward and backward, ${rows} rows of ${dim} (${path(dim)})`, async () => {
      const r = rng(rows * 1000 + dim);
      const x = input(rows, dim, r);
      const recorded = await recordDispatches(ctx.gpu, () => compare(x, rows, dim, EPS, r));
      // The vec4 variants run exactly when dim is a multiple of 4 (every buffer here is at offset 0).
      expect(recorded.map((d) => [d.kernel, d.defines?.VEC4])).toEqual([
        ['l2Normalize', dim % 4 === 0],
        ['l2NormalizeBackward', dim % 4 === 0],
      ]);
    });
  }

  it('rows of 1e-25 with eps 1e-30: squares that underflow float32 still give unit rows', async () => {
    // Without the power-of-two scaling the squares (1e-50) are 0, the row is clamped, and y = x / eps.
    const [rows, dim] = [9, 64];
    const r = rng(5);
    const x = f32(uniform(r, rows * dim).map((v) => 1e-25 * v));
    await compare(x, rows, dim, 1e-30, r);
    const y = await ctx.be.download(K.l2Normalize(ctx.be, ctx.be.upload(x), rows, dim, 1e-30).y, rows * dim);
    for (let row = 0; row < rows; row++) {
      const sq = y.subarray(row * dim, (row + 1) * dim).reduce((s, v) => s + v * v, 0);
      expectClose([sq], [1], 1, 2 * forwardRoundings(dim), `row ${row} squared norm`);
    }
  });

  it('the special rows by hand: zeros, clamped, huge', async () => {
    const dim = 4;
    const x = Float32Array.of(0, 0, 0, 0, 3e-13, 0, -4e-13, 0, 3e30, 0, -4e30, 0);
    const { y, norm } = K.l2Normalize(ctx.be, ctx.be.upload(x), 3, dim, EPS);
    const ys = await ctx.be.download(y, 12);
    const ns = await ctx.be.download(norm, 3);
    // ||(3, 0, -4, 0) * 1e-13|| = 5e-13 < eps: y = x / eps; the row of 1e30 gives (0.6, 0, -0.8, 0).
    expectClose(ys, [0, 0, 0, 0, 0.3, 0, -0.4, 0, 0.6, 0, -0.8, 0], 1, forwardRoundings(dim), 'y');
    expectClose(ns, [0, 5e-13, 5e30], [0, 5e-13, 5e30], normRoundings(dim), 'norm');
    const dy = Float32Array.of(1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4);
    const dx = await ctx.be.download(K.l2NormalizeBackward(ctx.be, ctx.be.upload(dy), y, norm, 3, dim, EPS), 12);
    // Clamped rows pass dy / eps; <dy, y> = 0.6 - 2.4 = -1.8 for the last row.
    const last = [1 - 0.6 * 1.8, 2, 3 + 0.8 * 1.8, 4].map((v) => v / 5e30);
    const want = [...Array.from(dy.subarray(0, 8), (v) => v / EPS), ...last];
    // The backward starts from the GPU's y and norm: their errors (y's twice, through y and <dy, y>)
    // come on top of its own.
    const mag = backwardMagnitude(dy, [0, 0, 0, 0, 0.3, 0, -0.4, 0, 0.6, 0, -0.8, 0], [0, 5e-13, 5e30], 3, dim, EPS);
    expectClose(dx, want, mag, backwardRoundings(dim) + 2 * forwardRoundings(dim) + normRoundings(dim), 'dx');
  });

  it('reads a binding that starts past the buffer start (one and two offset alignments in)', async () => {
    const [rows, dim] = [37, 16];
    const r = rng(11);
    const x = uniform(r, rows * dim);
    const fwd = K.l2Normalize(ctx.be, uploadAt(ctx.be, x, 1), rows, dim, EPS);
    const ref = K.l2Normalize(ctx.cpu, f64(x), rows, dim, EPS);
    expectClose(await ctx.be.download(fwd.y, rows * dim), ref.y, abs(ref.y), forwardRoundings(dim), 'y');
    const dy = uniform(r, rows * dim);
    const dx = K.l2NormalizeBackward(ctx.be, uploadAt(ctx.be, dy, 2), fwd.y, fwd.norm, rows, dim, EPS);
    const y32 = f32(await ctx.be.download(fwd.y, rows * dim));
    const n32 = f32(await ctx.be.download(fwd.norm, rows));
    const dref = K.l2NormalizeBackward(ctx.cpu, f64(dy), f64(y32), f64(n32), rows, dim, EPS);
    expectClose(await ctx.be.download(dx, rows * dim), dref, backwardMagnitude(dy, y32, n32, rows, dim, EPS), backwardRoundings(dim), 'dx');
  });

  it('is deterministic: two runs agree bit for bit', async () => {
    const [rows, dim] = [300, 256];
    const x = ctx.be.upload(uniform(rng(2), rows * dim));
    const a = await ctx.be.download(K.l2Normalize(ctx.be, x, rows, dim, EPS).y, rows * dim);
    const b = await ctx.be.download(K.l2Normalize(ctx.be, x, rows, dim, EPS).y, rows * dim);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('checks sizes and eps before dispatching', () => {
    const x = ctx.be.upload(new Float32Array(10));
    expect(() => K.l2Normalize(ctx.be, x, 3, 4, EPS)).toThrow(/l2Normalize: x holds 10 elements, 3 rows of 4 need 12/);
    expect(() => K.l2Normalize(ctx.be, x, 2, 4, 0)).toThrow(/eps 0 is not a positive normal float32/);
    expect(() => K.l2Normalize(ctx.be, x, 0, 4, EPS)).toThrow(/bad geometry of 0 rows of 4/);
    const norm = ctx.be.upload([1, 1]);
    expect(() => K.l2NormalizeBackward(ctx.be, x, x, norm, 2, 6, EPS)).toThrow(/l2NormalizeBackward: dy holds 10 elements, 2 rows of 6 need 12/);
    expect(() => K.l2NormalizeBackward(ctx.be, x, x, norm, 3, 3, EPS)).toThrow(/l2NormalizeBackward: norm holds 2 elements, 3 rows of 3 need 3/);
    expect(() => F.l2Normalize(Tensor.from(ctx.cpu, [2], []))).toThrow(/l2Normalize: needs a non-empty last axis, got \[\]/);
  });
});

describe('l2Normalize gradient (float64 finite differences on the reference)', () => {
  it.each([
    [[3, 5], EPS],
    [[2, 2, 7], EPS],
    [[4, 1], EPS],
  ])('shape %j, eps %s', (shape, eps) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const res = gradcheck((x) => F.l2Normalize(x!, eps), [{ values: uniform(rng(size), size, -2, 2), shape }], { maxChecks: size });
    expect(res.ok, res.detail).toBe(true);
    expect(res.checked).toBe(size);
  });

  it('a clamped row (norm 0.1 under eps 0.5) beside unclamped ones', () => {
    const [rows, dim] = [3, 4];
    const x = uniform(rng(8), rows * dim, 0.5, 1);
    setRow(x, dim, 1, (k) => 0.025 * (k + 1) * (k % 2 ? -1 : 1));
    const res = gradcheck((t) => F.l2Normalize(t!, 0.5), [{ values: x, shape: [rows, dim] }], { maxChecks: rows * dim });
    expect(res.ok, res.detail).toBe(true);
    expect(res.checked).toBe(rows * dim);
  });
});

describe('F.l2Normalize through the tape', () => {
  const shape = [2, 3, 3, 8];
  const [rows, dim] = [18, 8];
  const x = uniform(rng(21), rows * dim, -3, 3);
  const dy = uniform(rng(22), rows * dim);
  const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
    readScoped(() => {
      const t = Tensor.from(backend, x, shape, true);
      const y = F.l2Normalize(t);
      expect(y.shape).toEqual(shape);
      y.backward(Tensor.from(backend, dy, shape));
      return [y, t.grad!];
    }) as Promise<[Float64Array, Float64Array]>;

  it('[2, 3, 3, 8] NHWC: every cell has unit norm over its channels, on both backends', async () => {
    for (const backend of [ctx.be, ctx.cpu]) {
      const [y] = await run(backend);
      const sq = Array.from({ length: rows }, (_, c) => y.subarray(c * dim, (c + 1) * dim).reduce((s, v) => s + v * v, 0));
      // Each y within forwardRoundings relative, so ||y||^2 within twice that of 1.
      expectClose(sq, sq.map(() => 1), 1, 2 * forwardRoundings(dim), `${backend.name} squared norms`);
    }
  });

  it('GPU backward against the reference backward', async () => {
    const [y, dx] = await run(ctx.be);
    const [refY, refDx] = await run(ctx.cpu);
    expectClose(y, refY, abs(refY), forwardRoundings(dim), 'y');
    // The GPU's backward starts from its own y and norm: their errors (y's twice, through y and <dy, y>)
    // come on top of the backward's own.
    const norm = K.l2Normalize(ctx.cpu, f64(x), rows, dim, EPS).norm;
    const mag = backwardMagnitude(dy, refY, norm, rows, dim, EPS);
    expectClose(dx, refDx, mag, backwardRoundings(dim) + 2 * forwardRoundings(dim) + normRoundings(dim), 'dx');
  });
});
