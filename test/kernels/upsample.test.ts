import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { type SpatialGeometry, sizeOf, spatial } from '../../src/core/geometry.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, recordDispatches, uploadAt, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

type Nhwc = [number, number, number, number];

// Odd sizes with batch 1 and 3, channels not multiples of 4 (the scalar kernels) and small multiples
// (vec4), then the ResNet-34 UNet decoder's inputs (512, 256, 128, 64, 32 channels) at a 64x64 image.
const CASES: Nhwc[] = [
  [1, 7, 9, 5],
  [3, 13, 11, 3],
  [1, 1, 1, 1],
  [2, 5, 3, 7],
  [3, 5, 7, 4],
  [1, 1, 1, 4],
  [1, 3, 5, 8],
  [2, 2, 2, 512],
  [2, 4, 4, 256],
  [2, 8, 8, 128],
  [2, 16, 16, 64],
  [1, 32, 32, 32],
];

const upSize = (g: SpatialGeometry): number => 4 * g.n * g.h * g.w * g.c;
/** Each dx element sums 4 dy terms: 3 float32 additions, each within 2^-24 of a partial sum <= sum |terms|. */
const BACKWARD_ROUNDINGS = 3;

/** Each upsample dispatch recorded while `f` runs: kernel name and whether it ran as vec4. */
async function upsampleVariants(f: () => Promise<void>): Promise<[string, boolean][]> {
  const recorded = await recordDispatches(ctx.gpu, f);
  return recorded.filter((d) => d.shader.startsWith('upsample')).map((d) => [d.kernel, d.defines?.VEC4 === true]);
}

/** GPU forward and backward against the reference; x and dy bound `pad` offset-alignment steps into their buffers. */
async function compare(shape: Nhwc, seed: number, pad = 0): Promise<void> {
  const g = spatial(shape, 'upsample2x');
  const r = rng(seed);
  const x = uniform(r, sizeOf(shape));
  const y = await ctx.be.download(K.upsample2x(ctx.be, uploadAt(ctx.be, x, pad), g), upSize(g));
  // A copy: bit for bit (c = 0 leaves only the 1e-30 floor).
  expectClose(y, K.upsample2x(ctx.cpu, Float64Array.from(x), g), 0, 0, 'forward');
  const dy = uniform(r, upSize(g));
  const dx = await ctx.be.download(K.upsample2xBackward(ctx.be, uploadAt(ctx.be, dy, pad), g), sizeOf(shape));
  const ref = K.upsample2xBackward(ctx.cpu, Float64Array.from(dy), g);
  const mag = K.upsample2xBackward(ctx.cpu, Float64Array.from(abs(dy)), g);
  expectClose(dx, ref, mag, BACKWARD_ROUNDINGS, 'backward');
}

/** Runs compare and checks both kernels ran as vec4 exactly when c is a multiple of 4. */
async function compareOnPath(shape: Nhwc, seed: number, pad = 0): Promise<void> {
  const vec4 = shape[3] % 4 === 0;
  expect(await upsampleVariants(() => compare(shape, seed, pad))).toEqual([
    ['upsample2x', vec4],
    ['upsample2xBackward', vec4],
  ]);
}

describe('upsample2x against the reference', () => {
  for (const shape of CASES) {
    it(`forward and backward ${JSON.stringify(shape)} (${shape[3] % 4 === 0 ? 'vec4' : 'scalar'})`, () => compareOnPath(shape, sizeOf(shape)));
  }
  // A binding offset of one minStorageBufferOffsetAlignment (16 bytes or more) keeps vec4 alignment; one
  // that would not (4 bytes) is below every adapter's alignment, so it cannot be bound.
  for (const shape of [[2, 3, 5, 4], [2, 3, 5, 3]] as Nhwc[]) {
    it(`forward and backward ${JSON.stringify(shape)} with x and dy bound one offset alignment into their buffers`, () => compareOnPath(shape, 7, 1));
  }
});

describe('upsample2x by hand', () => {
  const onBoth = async (f: <S>(be: Backend<S>) => S, size: number): Promise<Float64Array[]> => [
    await ctx.be.download(f(ctx.be), size),
    await ctx.cpu.download(f(ctx.cpu), size),
  ];
  // x [1, 2, 3, 2]: pixel (y, x) holds channels 10 * (3y + x) + {1, 2}.
  const g = spatial([1, 2, 3, 2], 'upsample2x');
  const x = [1, 2, 11, 12, 21, 22, 31, 32, 41, 42, 51, 52];

  it('copies each pixel to its 2x2 block', async () => {
    const row = (px: number[]) => px.flatMap((p) => [p + 1, p + 2, p + 1, p + 2]);
    const want = [...row([0, 10, 20]), ...row([0, 10, 20]), ...row([30, 40, 50]), ...row([30, 40, 50])];
    for (const y of await onBoth((be) => K.upsample2x(be, be.upload(x), g), 48)) expect(Array.from(y)).toEqual(want);
  });

  it('sums each 2x2 block back', async () => {
    // dy = 2^i at flat index i: each block sum is a distinct set of bits (exact in float32: the four
    // exponents lie within 14 of each other), so any wrong or missing term shows.
    const dy = Array.from({ length: 48 }, (_, i) => 2 ** i);
    const want = x.map((_, i) => {
      const [ch, px] = [i % 2, Math.floor(i / 2)];
      const [yy, xx] = [Math.floor(px / 3), px % 3];
      let s = 0;
      for (const a of [0, 1]) for (const b of [0, 1]) s += dy[((2 * yy + a) * 6 + 2 * xx + b) * 2 + ch]!;
      return s;
    });
    for (const dx of await onBoth((be) => K.upsample2xBackward(be, be.upload(dy), g), 12)) expect(Array.from(dx)).toEqual(want);
  });
});

describe('upsample2x gradient (float64 finite differences on the reference)', () => {
  for (const shape of [[2, 3, 5, 3], [1, 4, 3, 2]] as Nhwc[]) {
    it(JSON.stringify(shape), () => {
      const size = sizeOf(shape);
      const res = gradcheck((x) => F.upsample2x(x!), [{ values: uniform(rng(size), size), shape }], { maxChecks: size });
      expect(res.ok, res.detail).toBe(true);
      expect(res.checked).toBe(size);
    });
  }
});

describe('GPU backward against the reference backward, through the tape', () => {
  it('F.upsample2x [3, 7, 9, 5]', async () => {
    const shape: Nhwc = [3, 7, 9, 5];
    const r = rng(11);
    const x = uniform(r, sizeOf(shape));
    const dy = uniform(r, 4 * sizeOf(shape));
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const t = Tensor.from(backend, x, shape, true);
        const y = F.upsample2x(t);
        expect(y.shape).toEqual([3, 14, 18, 5]);
        y.backward(Tensor.from(backend, dy, y.shape));
        return [t.grad!];
      });
    const [got] = await run(ctx.be);
    const [ref] = await run(ctx.cpu);
    const mag = K.upsample2xBackward(ctx.cpu, Float64Array.from(abs(dy)), spatial(shape, 'upsample2x'));
    expectClose(got, ref, mag, BACKWARD_ROUNDINGS, 'dx');
  });
});

describe('upsample2x on more than 16.8 million elements (2-D dispatch grid)', () => {
  // Scalar (c = 3): as vec4, a 2-D grid needs 4x the elements, past lavapipe's 128 MiB binding limit.
  it('[1, 1183, 1183, 3]: 16.8M outputs forward, 4.2M inputs backward in groups of 64', async () => {
    // Forward: 16,793,868 invocations > 65535 * 256; backward: 4,198,467 > 65535 * 64 (its group size).
    const shape: Nhwc = [1, 1183, 1183, 3];
    expect(4 * sizeOf(shape)).toBeGreaterThan(65535 * 256);
    expect(sizeOf(shape)).toBeGreaterThan(65535 * 64);
    await compareOnPath(shape, 5);
  });
});
