import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { type PoolGeometry, poolGeometry, sizeOf } from '../../src/core/geometry.js';
import { type Rng, rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

type Nhwc = [number, number, number, number];
interface PoolCase {
  shape: Nhwc;
  k: number;
  stride: number;
  pad: number;
}
const pool = (shape: Nhwc, k: number, stride: number, pad: number): PoolCase => ({ shape, k, stride, pad });

// The network's pool (3x3, stride 2, pad 1) on odd and even sizes with batch 1 and 3 and on the ResNet-34
// stem output (64 channels, 128x128 image); then other kernels, strides and paddings.
const CASES: PoolCase[] = [
  pool([1, 7, 9, 5], 3, 2, 1),
  pool([3, 13, 11, 3], 3, 2, 1),
  pool([2, 32, 32, 64], 3, 2, 1),
  pool([3, 7, 9, 5], 2, 2, 0),
  pool([1, 13, 11, 6], 3, 1, 1),
  pool([2, 8, 10, 3], 2, 1, 1),
  pool([1, 9, 7, 2], 3, 3, 0),
  pool([1, 11, 13, 2], 5, 2, 2),
  pool([1, 5, 6, 7], 1, 1, 0),
  // Channels in fours: the backward's vec4 path (overlapping windows at stride 1, a 5x5 window).
  pool([3, 13, 11, 4], 3, 2, 1),
  pool([1, 9, 7, 8], 2, 1, 1),
  pool([1, 11, 13, 12], 5, 2, 2),
];

const name = (c: PoolCase): string => `${JSON.stringify(c.shape)} k${c.k} s${c.stride} p${c.pad}`;
const geometry = (c: PoolCase): PoolGeometry => poolGeometry(c.shape, c.k, c.stride, c.pad);
const outSize = (g: PoolGeometry): number => g.n * g.oh * g.ow * g.c;

/** Small integers: most windows hold ties, so the first-maximum rule decides. */
function tied(r: Rng, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => Math.floor(3 * r()));
}

/** A random permutation of 0..size-1 scaled into [-1, 1): no two values equal (no ties at all). */
function distinct(r: Rng, size: number): Float32Array {
  const v = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return Float32Array.from(v, (i) => (2 * i) / size - 1);
}

async function gpuForward(x: Float32Array, g: PoolGeometry): Promise<Float64Array> {
  return ctx.be.download(K.maxPool2d(ctx.be, ctx.be.upload(x), g), outSize(g));
}

async function gpuBackward(x: Float32Array, dy: Float32Array, g: PoolGeometry): Promise<Float64Array> {
  return ctx.be.download(K.maxPool2dBackward(ctx.be, ctx.be.upload(x), ctx.be.upload(dy), g), g.n * g.h * g.w * g.c);
}

/** Windows one input element can lie in, hence the most dy terms it sums: ceil(k / stride)^2. */
const termsPerInput = (g: PoolGeometry): number => Math.ceil(g.k / g.stride) ** 2;

async function compareBackward(x: Float32Array, dy: Float32Array, g: PoolGeometry, what: string): Promise<void> {
  const got = await gpuBackward(x, dy, g);
  const xs = Float64Array.from(x);
  const ref = K.maxPool2dBackward(ctx.cpu, xs, Float64Array.from(dy), g);
  const mag = K.maxPool2dBackward(ctx.cpu, xs, Float64Array.from(abs(dy)), g);
  // The same argmax on both sides (exact comparisons); a sum of at most T terms in float32 rounds at
  // most T - 1 times, each within 2^-24 of a partial sum <= sum |terms|.
  expectClose(got, ref, mag, termsPerInput(g), what);
}

describe('maxPool2d against the reference', () => {
  for (const c of CASES) {
    it(`forward and backward ${name(c)}`, async () => {
      const g = geometry(c);
      const r = rng(sizeOf(c.shape) + c.k);
      for (const [kind, x] of [
        ['random', uniform(r, sizeOf(c.shape))],
        ['tied', tied(r, sizeOf(c.shape))],
      ] as const) {
        const got = await gpuForward(x, g);
        // A selection: the output is one of the inputs, bit for bit (c = 0 leaves only the 1e-30 floor).
        expectClose(got, K.maxPool2d(ctx.cpu, Float64Array.from(x), g), 0, 0, `forward (${kind})`);
        await compareBackward(x, uniform(r, outSize(g)), g, `backward (${kind})`);
      }
    });
  }
});

describe('maxPool2d rules, by hand', () => {
  /** f run on the GPU and on the reference, both results downloaded. */
  const onBoth = async (f: <S>(be: Backend<S>) => S, size: number): Promise<Float64Array[]> => [
    await ctx.be.download(f(ctx.be), size),
    await ctx.cpu.download(f(ctx.cpu), size),
  ];

  it('padding is -inf, not 0: an all-negative input pools to its own maximum', async () => {
    const g = poolGeometry([1, 2, 2, 1], 3, 2, 1);
    for (const y of await onBoth((be) => K.maxPool2d(be, be.upload([-4, -3, -2, -1]), g), 1)) {
      expect(Array.from(y)).toEqual([-1]);
    }
  });

  it('ties go to the first maximum in row-major window order', async () => {
    const g = poolGeometry([1, 2, 2, 1], 2, 2, 0);
    for (const [x, want] of [
      [[3, 3, 3, 3], [1, 0, 0, 0]],
      [[0, 2, 2, 1], [0, 1, 0, 0]],
      [[0, 1, 2, 2], [0, 0, 1, 0]],
    ]) {
      for (const dx of await onBoth((be) => K.maxPool2dBackward(be, be.upload(x!), be.upload([1]), g), 4)) {
        expect(Array.from(dx), `x = ${x}`).toEqual(want);
      }
    }
  });

  it('ties go to the first maximum on the four-channel path too, each channel on its own', async () => {
    // Channel j of the 2x2 image: all equal for j = 0, the maximum at pixel j otherwise.
    const g = poolGeometry([1, 2, 2, 4], 2, 2, 0);
    const x = [5, 0, 0, 0, 5, 7, 0, 0, 5, 0, 7, 0, 5, 0, 0, 7];
    const want = [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4];
    for (const dx of await onBoth((be) => K.maxPool2dBackward(be, be.upload(x), be.upload([1, 2, 3, 4]), g), 16)) {
      expect(Array.from(dx)).toEqual(want);
    }
  });

  it('an element that is the maximum of several windows sums their dy', async () => {
    // 2x2 windows at stride 1 over 3x3: the centre lies in all four.
    const g = poolGeometry([1, 3, 3, 1], 2, 1, 0);
    const x = [0, 1, 0, 1, 9, 1, 0, 1, 0];
    for (const dx of await onBoth((be) => K.maxPool2dBackward(be, be.upload(x), be.upload([1, 2, 3, 4]), g), 9)) {
      expect(Array.from(dx)).toEqual([0, 0, 0, 0, 10, 0, 0, 0, 0]);
    }
  });
});

describe('maxPool2d gradient (float64 finite differences on the reference)', () => {
  // Distinct inputs 2/size apart (>= 3e-3 here) stay far from ties under the 1e-6 perturbation.
  for (const c of [pool([2, 7, 9, 3], 3, 2, 1), pool([1, 5, 6, 2], 3, 1, 1), pool([3, 4, 5, 2], 2, 2, 0)]) {
    it(name(c), () => {
      const size = sizeOf(c.shape);
      const res = gradcheck((x) => F.maxPool2d(x!, c.k, c.stride, c.pad), [{ values: distinct(rng(size), size), shape: c.shape }], {
        maxChecks: size,
      });
      expect(res.ok, res.detail).toBe(true);
      expect(res.checked).toBe(size);
    });
  }
});

describe('GPU backward against the reference backward, through the tape', () => {
  it('F.maxPool2d [3, 13, 11, 5] (3x3, stride 2, pad 1)', async () => {
    const shape: Nhwc = [3, 13, 11, 5];
    const r = rng(77);
    const x = uniform(r, sizeOf(shape));
    const g = poolGeometry(shape, 3, 2, 1);
    const dy = uniform(r, outSize(g));
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const t = Tensor.from(backend, x, shape, true);
        const y = F.maxPool2d(t);
        expect(y.shape).toEqual([g.n, g.oh, g.ow, g.c]);
        y.backward(Tensor.from(backend, dy, y.shape));
        return [t.grad!];
      });
    const [got] = await run(ctx.be);
    const [ref] = await run(ctx.cpu);
    const mag = K.maxPool2dBackward(ctx.cpu, Float64Array.from(x), Float64Array.from(abs(dy)), g);
    expectClose(got, ref, mag, termsPerInput(g), 'dx');
  });
});

describe('maxPool2d on more than 16.8 million elements (2-D dispatch grid)', () => {
  it('2x2 stride 1 over [1, 2370, 2370, 3]: 16.8M outputs forward, 16.9M inputs backward', async () => {
    // Stride 1 keeps the output as large as the input, so both dispatches pass 65535 * 256 invocations
    // while the input stays under lavapipe's 128 MiB binding limit.
    const g = poolGeometry([1, 2370, 2370, 3], 2, 1, 0);
    expect(outSize(g)).toBeGreaterThan(65535 * 256);
    const r = rng(3);
    const x = uniform(r, g.n * g.h * g.w * g.c);
    const got = await gpuForward(x, g);
    expectClose(got, K.maxPool2d(ctx.cpu, Float64Array.from(x), g), 0, 0, 'forward');
    await compareBackward(x, uniform(r, outSize(g)), g, 'backward');
  });
});
