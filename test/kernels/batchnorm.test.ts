import { describe, expect, it, vi } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import type { Backend } from '../../src/backend/backend.js';
import type { BnFuse } from '../../src/core/types.js';
import type { BatchNormGeometry } from '../../src/core/geometry.js';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { ROWS_PER_CHUNK } from '../../src/kernels/batchnorm.js';
import { rng, normal, uniform } from '../../src/util/random.js';
import { expectClose, readScoped, U32, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

const FUSES: BnFuse[] = ['none', 'relu', 'add-relu'];
const EPS = 1e-5;
const MOMENTUM = 0.1;
/** reduceMiddle's chunk (src/kernels/reduce.ts): partial sums are added in runs of at most this many. */
const REDUCE_CHUNK = 512;

// [h, w, c]: odd sizes; channel counts that are not multiples of 4 (the scalar kernels: 3, 5, 7) and
// small multiples of 4 (the vec4 kernels with one or two vec4s a row: 4, 8); and the batch-norm shapes
// of the ResNet-34 UNet at a 32x32 input (vec4): encoder 16x16x64 (stem), 8x8x64, 4x4x128, 2x2x256,
// 1x1x512; decoder 2x2x256, 4x4x128, 8x8x64 (as in the encoder), 16x16x32, 32x32x16.
const SPATIAL: [number, number, number][] = [
  [7, 9, 3],
  [13, 11, 5],
  [5, 3, 7],
  [9, 7, 4],
  [3, 5, 8],
  [16, 16, 64],
  [8, 8, 64],
  [4, 4, 128],
  [2, 2, 256],
  [1, 1, 512],
  [16, 16, 32],
  [32, 32, 16],
];

interface Inputs {
  g: BatchNormGeometry;
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  rm: Float32Array;
  rv: Float32Array;
  residual: Float32Array | null;
}

function geometry([n, h, w, c]: number[]): BatchNormGeometry {
  return { n: n!, h: h!, w: w!, c: c!, eps: EPS, momentum: MOMENTUM };
}

/** Random inputs; each channel gets its own offset and spread, so means and variances differ. */
function makeInputs(shape: number[], fuse: BnFuse, seed: number): Inputs {
  const g = geometry(shape);
  const r = rng(seed);
  const x = uniform(r, g.n * g.h * g.w * g.c);
  const offset = uniform(r, g.c, -3, 3);
  const spread = uniform(r, g.c, 0.2, 3);
  for (let i = 0; i < x.length; i++) x[i] = offset[i % g.c]! + spread[i % g.c]! * x[i]!;
  return {
    g,
    x,
    gamma: uniform(r, g.c, -1.5, 1.5),
    beta: uniform(r, g.c, -0.5, 0.5),
    rm: uniform(r, g.c, -0.5, 0.5),
    rv: uniform(r, g.c, 0.5, 1.5),
    residual: fuse === 'add-relu' ? uniform(r, x.length) : null,
  };
}

const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);

interface TrainResult {
  y: Float64Array;
  mean: Float64Array;
  invStd: Float64Array;
  rm: Float64Array;
  rv: Float64Array;
}

/** One training forward on `be`; running statistics start from `rm`/`rv` (or inp's) and are returned. */
async function train<S>(be: Backend<S>, inp: Inputs, fuse: BnFuse, rm0?: S, rv0?: S): Promise<TrainResult & { rmS: S; rvS: S }> {
  const { g } = inp;
  const size = inp.x.length;
  const rm = rm0 ?? be.upload(inp.rm);
  const rv = rv0 ?? be.upload(inp.rv);
  const ins = [be.upload(inp.x), be.upload(inp.gamma), be.upload(inp.beta)] as const;
  const res = inp.residual ? be.upload(inp.residual) : null;
  const out = K.batchNormTrain(be, ...ins, rm, rv, res, g, fuse);
  const result = {
    y: await be.download(out.y, size),
    mean: await be.download(out.mean, g.c),
    invStd: await be.download(out.invStd, g.c),
    rm: await be.download(rm, g.c),
    rv: await be.download(rv, g.c),
    rmS: rm,
    rvS: rv,
  };
  for (const s of [...ins, out.y, out.mean, out.invStd]) be.free(s);
  if (res) be.free(res);
  return result;
}

/** Roundings along the longest chain of adds in a GPU sum over m rows: one chunk, then reduceMiddle's runs. */
function sumRoundings(m: number): number {
  let total = Math.min(m, ROWS_PER_CHUNK);
  for (let r = Math.ceil(m / ROWS_PER_CHUNK); r > 1; r = Math.ceil(r / REDUCE_CHUNK)) total += Math.min(r, REDUCE_CHUNK);
  return total;
}

/**
 * Error bounds of the training forward, in units of 2^-23 (pass them to expectClose with c = 1).
 * With K the roundings of a sum over m rows and mad = mean |x - mean|: the shifted two-pass mean is off
 * by its final rounding plus K roundings of sums of deviations; the variance by K + 4 roundings
 * relative (the correction term is second order); y inherits both through gamma * invStd, plus a few
 * roundings of its own terms (a fused ReLU does not grow errors).
 */
function trainBounds(inp: Inputs, ref: TrainResult) {
  const { g, x } = inp;
  const m = g.n * g.h * g.w;
  const k = sumRoundings(m);
  const mad = new Float64Array(g.c);
  for (let i = 0; i < x.length; i++) mad[i % g.c] += Math.abs(x[i]! - ref.mean[i % g.c]!) / m;
  const mean = Array.from(ref.mean, (mu, ch) => 2 * Math.abs(mu) + 2 * k * mad[ch]!);
  const invStd = Array.from(ref.invStd, (s) => (k + 8) * s);
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = i % g.c;
    const gs = Math.abs(inp.gamma[ch]!) * ref.invStd[ch]!;
    const side = Math.abs(inp.beta[ch]!) + Math.abs(inp.residual?.[i] ?? 0);
    y[i] = gs * mean[ch]! + (k + 14) * gs * Math.abs(x[i]! - ref.mean[ch]!) + 4 * side;
  }
  const unbiased = Array.from(ref.invStd, (s) => ((1 / (s * s) - EPS) * m) / (m - 1));
  const rm = Array.from(mean, (b, ch) => MOMENTUM * b + 3 * (Math.abs(inp.rm[ch]!) + Math.abs(ref.mean[ch]!)));
  const rv = unbiased.map((v, ch) => MOMENTUM * (k + 8) * v + 3 * (Math.abs(inp.rv[ch]!) + v));
  return { mean, invStd, y, rm, rv };
}

function expectTrainClose(got: TrainResult, ref: TrainResult, inp: Inputs): void {
  const b = trainBounds(inp, ref);
  expectClose(got.mean, ref.mean, b.mean, 1, 'mean');
  expectClose(got.invStd, ref.invStd, b.invStd, 1, 'invStd');
  expectClose(got.y, ref.y, b.y, 1, 'y');
  expectClose(got.rm, ref.rm, b.rm, 1, 'running mean');
  expectClose(got.rv, ref.rv, b.rv, 1, 'running var');
}

describe('training forward against the reference', () => {
  for (const [h, w, c] of SPATIAL) {
    for (const n of [1, 3]) {
      for (const fuse of FUSES) {
        const shape = [n, h, w, c];
        if (n * h * w === 1) continue;
        it(`${fuse} ${JSON.stringify(shape)}`, async () => {
          const inp = makeInputs(shape, fuse, n * 1000 + h * 31 + c);
          expectTrainClose(await train(ctx.be, inp, fuse), await train(ctx.cpu, inp, fuse), inp);
        });
      }
    }
  }

  it('one value per channel is an error, as in PyTorch', async () => {
    const inp = makeInputs([1, 1, 1, 512], 'none', 1);
    await expect(train(ctx.be, inp, 'none')).rejects.toThrow(/more than 1 value per channel/);
    await expect(train(ctx.cpu, inp, 'none')).rejects.toThrow(/more than 1 value per channel/);
  });

  it('running statistics after one and after two steps (momentum 0.1)', async () => {
    const shape = [3, 7, 9, 5];
    const steps = [makeInputs(shape, 'relu', 11), makeInputs(shape, 'relu', 12)];
    let gpuRm: BufferRef | undefined;
    let gpuRv: BufferRef | undefined;
    let cpuRm: Float64Array | undefined;
    let cpuRv: Float64Array | undefined;
    let before = { rm: f64(steps[0]!.rm), rv: f64(steps[0]!.rv) };
    let carried = { rm: new Float64Array(5), rv: new Float64Array(5) };
    for (const [t, inp] of steps.entries()) {
      const got = await train(ctx.be, inp, 'relu', gpuRm, gpuRv);
      const ref = await train(ctx.cpu, inp, 'relu', cpuRm, cpuRv);
      [gpuRm, gpuRv, cpuRm, cpuRv] = [got.rmS, got.rvS, ref.rmS, ref.rvS];
      const b = trainBounds({ ...inp, rm: Float32Array.from(before.rm), rv: Float32Array.from(before.rv) }, ref);
      // Step 2 starts from step 1's result, whose error decays by (1 - momentum).
      carried = {
        rm: Float64Array.from(b.rm, (v, ch) => v + (1 - MOMENTUM) * carried.rm[ch]!),
        rv: Float64Array.from(b.rv, (v, ch) => v + (1 - MOMENTUM) * carried.rv[ch]!),
      };
      expect(Array.from(got.rm)).not.toEqual(Array.from(before.rm));
      expectClose(got.rm, ref.rm, carried.rm, 1, `running mean after step ${t + 1}`);
      expectClose(got.rv, ref.rv, carried.rv, 1, `running var after step ${t + 1}`);
      before = { rm: ref.rm, rv: ref.rv };
    }
  });

  // c = 3 (scalar) and c = 8 (vec4): neighbouring channels far apart, so a shift taken from the wrong
  // channel shows too.
  for (const c of [3, 8]) {
    it(`mean 1000, std 0.01, c = ${c}: the variance stays accurate`, async () => {
      const shape = [4, 16, 16, c];
      const inp = makeInputs(shape, 'none', 5);
      const noise = normal(rng(6), inp.x.length, 0.01);
      const means = [1000, -1000, 1000.5];
      for (let i = 0; i < inp.x.length; i++) inp.x[i] = means[(i % c) % 3]! + noise[i]!;
      const got = await train(ctx.be, inp, 'none');
      const ref = await train(ctx.cpu, inp, 'none');
      expectTrainClose(got, ref, inp);
      // A naive float32 E[x^2] - E[x]^2 (sequential sums) must miss by far more than that bound.
      const m = inp.x.length / c;
      let sum = 0;
      let sumSq = 0;
      for (let r = 0; r < m; r++) {
        const v = inp.x[r * c]!;
        sum = Math.fround(sum + v);
        sumSq = Math.fround(sumSq + Math.fround(v * v));
      }
      const naiveVar = Math.fround(sumSq / m) - Math.fround(sum / m) ** 2;
      const naiveInvStd = 1 / Math.sqrt(Math.max(naiveVar, 0) + EPS);
      const bound = trainBounds(inp, ref).invStd[0]! * U32;
      expect(Math.abs(naiveInvStd - ref.invStd[0]!)).toBeGreaterThan(100 * bound);
    });
  }

  // c = 5, so the scalar kernels: with vec4 the same tensor would take a quarter of the invocations and
  // stay on a 1-D grid, and a vec4 tensor big enough for a 2-D grid (67M floats) exceeds lavapipe's
  // 128 MiB binding limit. Both kernels share flatIndex and grid1d.
  it('[1, 1640, 2048, 5]: more than 16.8 million elements (2-D grid, long reductions)', async () => {
    const shape = [1, 1640, 2048, 5];
    const inp = makeInputs(shape, 'none', 9);
    const got = await train(ctx.be, inp, 'none');
    const ref = await train(ctx.cpu, inp, 'none');
    expect(got.y.length).toBe(16_793_600);
    expectTrainClose(got, ref, inp);
  });

  it('[1, 512, 512, 4]: long reductions with vec4 (4096 chunks, two reduce passes)', async () => {
    const shape = [1, 512, 512, 4];
    const inp = makeInputs(shape, 'relu', 10);
    const got = await train(ctx.be, inp, 'relu');
    const ref = await train(ctx.cpu, inp, 'relu');
    expectTrainClose(got, ref, inp);
  });
});

describe('inference forward against the reference', () => {
  let seed = 0;
  for (const [h, w, c] of SPATIAL) {
    for (const n of [1, 3]) {
      for (const fuse of FUSES) {
        const shape = [n, h, w, c];
        const caseSeed = ++seed;
        it(`${fuse} ${JSON.stringify(shape)}`, async () => {
          const inp = makeInputs(shape, fuse, caseSeed);
          const run = async <S>(be: Backend<S>) => {
            const res = inp.residual ? be.upload(inp.residual) : null;
            const ins = [inp.x, inp.gamma, inp.beta, inp.rm, inp.rv].map((a) => be.upload(a)) as [S, S, S, S, S];
            return be.download(K.batchNormEval(be, ...ins, res, inp.g, fuse), inp.x.length);
          };
          const got = await run(ctx.be);
          const ref = await run(ctx.cpu);
          // inverseSqrt (2 ulp), the subtraction and two products: 8 roundings of |gamma (x - rm) invStd|,
          // and the additions of beta and the residual.
          const mag = Float64Array.from(inp.x, (xv, i) => {
            const ch = i % c;
            const s = 1 / Math.sqrt(inp.rv[ch]! + EPS);
            return 8 * Math.abs(inp.gamma[ch]! * (xv - inp.rm[ch]!)) * s + 4 * (Math.abs(inp.beta[ch]!) + Math.abs(inp.residual?.[i] ?? 0));
          });
          expectClose(got, ref, mag, 1, 'y');
        });
      }
    }
  }
});

/** Inputs whose pre-activations stay at least 1e-3 from the ReLU kink (far beyond the 1e-6 step). */
function awayFromKink(shape: number[], fuse: BnFuse): Inputs {
  for (let seed = 1; seed < 100; seed++) {
    const inp = makeInputs(shape, fuse, seed);
    const pre = K.batchNormTrain(ctx.cpu, f64(inp.x), f64(inp.gamma), f64(inp.beta), f64(inp.rm), f64(inp.rv), null, inp.g, 'none').y;
    if (pre.every((v, i) => Math.abs(v + (inp.residual?.[i] ?? 0)) >= 1e-3)) return inp;
  }
  throw new Error('no input away from the ReLU kink');
}

function bnOf(inp: Inputs, fuse: BnFuse) {
  return (x: Tensor, gamma: Tensor, beta: Tensor, residual?: Tensor): Tensor =>
    F.batchNorm(x, {
      gamma,
      beta,
      runningMean: Tensor.from(x.backend, inp.rm, [inp.g.c]),
      runningVar: Tensor.from(x.backend, inp.rv, [inp.g.c]),
      training: true,
      fuse,
      residual,
    });
}

describe('gradients (float64 finite differences on the reference, batch 4)', () => {
  for (const fuse of FUSES) {
    it(`${fuse}: x, gamma, beta${fuse === 'add-relu' ? ', residual' : ''}`, () => {
      const shape = [4, 3, 5, 3];
      const inp = awayFromKink(shape, fuse);
      const inputs = [
        { values: inp.x, shape },
        { values: inp.gamma, shape: [3] },
        { values: inp.beta, shape: [3] },
        ...(inp.residual ? [{ values: inp.residual, shape }] : []),
      ];
      const res = gradcheck((x, gm, bt, r) => bnOf(inp, fuse)(x!, gm!, bt!, r), inputs, { maxChecks: 1000 });
      expect(res.checked).toBe(inputs.reduce((a, i) => a + i.values.length, 0));
      expect(res.ok, res.detail).toBe(true);
    });
  }
});

describe('GPU backward against the reference backward', () => {
  // Scalar kernels (c = 3, 5, 7), then vec4 ones (c = 4, 8, 64, 512, 16).
  const SHAPES = [
    [3, 7, 9, 3],
    [4, 16, 16, 5],
    [2, 5, 3, 7],
    [3, 7, 9, 4],
    [2, 5, 3, 8],
    [2, 13, 11, 64],
    [4, 1, 1, 512],
    [1, 32, 32, 16],
  ];
  for (const shape of SHAPES) {
    for (const fuse of FUSES) {
      it(`${fuse} ${JSON.stringify(shape)}`, async () => {
        const inp = makeInputs(shape, fuse, shape[0]! * 7 + shape[3]!);
        const { g } = inp;
        const size = inp.x.length;
        const m = g.n * g.h * g.w;
        // Both backwards see the same float32 forward results: the same ReLU mask, the same statistics.
        const fwd = K.batchNormTrain(ctx.cpu, f64(inp.x), f64(inp.gamma), f64(inp.beta), f64(inp.rm), f64(inp.rv), inp.residual && f64(inp.residual), g, fuse);
        const [y, mean, invStd] = [fwd.y, fwd.mean, fwd.invStd].map((a) => Float32Array.from(a)) as [Float32Array, Float32Array, Float32Array];
        const dy = uniform(rng(size), size);
        const run = async <S>(be: Backend<S>) => {
          const [sdy, sx, sy, smean, sinv, sgamma] = [dy, inp.x, y, mean, invStd, inp.gamma].map((a) => be.upload(a)) as S[];
          const r = K.batchNormBackward(be, sdy!, sx!, sy!, smean!, sinv!, sgamma!, g, fuse);
          return {
            dx: await be.download(r.dx, size),
            dgamma: await be.download(r.dgamma, g.c),
            dbeta: await be.download(r.dbeta, g.c),
            dresidual: r.dresidual && (await be.download(r.dresidual, size)),
          };
        };
        const got = await run(ctx.be);
        const ref = await run(ctx.cpu);

        // Bounds: dbeta and dgamma are sums of K roundings of sum |terms| (xhat adds 4 more); dx
        // inherits their errors through gamma * invStd / m, plus a few roundings of its own terms.
        const k = sumRoundings(m);
        const sumAbs = new Float64Array(g.c);
        const sumAbsX = new Float64Array(g.c);
        const xhat = Float64Array.from(inp.x, (v, i) => (v - mean[i % g.c]!) * invStd[i % g.c]!);
        const dyh = Float64Array.from(dy, (v, i) => (fuse === 'none' || y[i]! > 0 ? v : 0));
        for (let i = 0; i < size; i++) {
          sumAbs[i % g.c] += Math.abs(dyh[i]!);
          sumAbsX[i % g.c] += Math.abs(dyh[i]! * xhat[i]!);
        }
        const dxMag = Float64Array.from(dyh, (d, i) => {
          const ch = i % g.c;
          const scale = Math.abs(inp.gamma[ch]! * invStd[ch]!) / m;
          return scale * (4 * m * Math.abs(d) + (k + 4) * sumAbs[ch]! + (k + 8) * Math.abs(xhat[i]!) * sumAbsX[ch]!);
        });
        expectClose(got.dbeta, ref.dbeta, sumAbs, k, 'dbeta');
        expectClose(got.dgamma, ref.dgamma, sumAbsX, k + 4, 'dgamma');
        expectClose(got.dx, ref.dx, dxMag, 1, 'dx');
        if (fuse === 'add-relu') expect(Array.from(got.dresidual!)).toEqual(Array.from(ref.dresidual!));
        else expect(got.dresidual).toBeNull();
      });
    }
  }

  for (const c of [7, 8]) {
    it(`through the tape: F.batchNorm add-relu on both backends, c = ${c}`, async () => {
      const shape = [4, 6, 5, c];
      const inp = awayFromKink(shape, 'add-relu');
      const dy = uniform(rng(77), inp.x.length);
      const grads = async (be: Backend) =>
        readScoped(() => {
          const ts = [
            Tensor.from(be, inp.x, shape, true),
            Tensor.from(be, inp.gamma, [c], true),
            Tensor.from(be, inp.beta, [c], true),
            Tensor.from(be, inp.residual!, shape, true),
          ] as const;
          bnOf(inp, 'add-relu')(...ts).backward(Tensor.from(be, dy, shape));
          return ts.map((t) => t.grad!);
        });
      const got = await grads(ctx.be);
      const ref = await grads(ctx.cpu);
      // Loose, relative to the largest gradient of each: the forward statistics differ by their own
      // rounding here; the tight per-element bounds are checked above.
      got.forEach((gr, j) => {
        const scale = Math.max(...Array.from(ref[j]!, Math.abs));
        expectClose(gr, ref[j]!, scale, 2000, ['dx', 'dgamma', 'dbeta', 'dresidual'][j]);
      });
    });
  }
});

describe('kernel choice', () => {
  // Every other test passes with the scalar kernels alone, so this one pins which kernels ran.
  for (const c of [7, 8]) {
    it(`c = ${c}: every batch-norm kernel runs ${c % 4 === 0 ? 'as vec4' : 'scalar'}`, async () => {
      const shape = [2, 3, 5, c];
      const inp = makeInputs(shape, 'add-relu', 3);
      const spy = vi.spyOn(ctx.gpu, 'dispatch');
      try {
        const be = ctx.be;
        const [x, gamma, beta, rm, rv, res] = [inp.x, inp.gamma, inp.beta, inp.rm, inp.rv, inp.residual!].map((a) => be.upload(a)) as BufferRef[];
        const fwd = K.batchNormTrain(be, x!, gamma!, beta!, rm!, rv!, res!, inp.g, 'add-relu');
        const y = K.batchNormEval(be, x!, gamma!, beta!, rm!, rv!, res!, inp.g, 'add-relu');
        const bwd = K.batchNormBackward(be, x!, x!, fwd.y, fwd.mean, fwd.invStd, gamma!, inp.g, 'add-relu');
        await be.download(bwd.dx, inp.x.length);
        for (const r of [x, gamma, beta, rm, rv, res, fwd.y, fwd.mean, fwd.invStd, y, bwd.dx, bwd.dgamma, bwd.dbeta, bwd.dresidual]) be.free(r!);
        const bn = spy.mock.calls.map(([d]) => d).filter((d) => d.shader.startsWith('batchnorm'));
        expect(new Set(bn.map((d) => d.kernel))).toEqual(
          new Set(['batchNormSums', 'batchNormShiftedMean', 'batchNormStats', 'batchNorm', 'batchNormGradSums', 'batchNormInputGrad']),
        );
        for (const d of bn) expect(d.defines?.VEC4, d.kernel).toBe(c % 4 === 0);
      } finally {
        spy.mockRestore();
      }
    });
  }
});
