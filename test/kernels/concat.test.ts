import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import type { Backend } from '../../src/backend/backend.js';
import type { SpatialGeometry } from '../../src/core/geometry.js';
import { rng, uniform } from '../../src/util/random.js';
import { expectClose, readScoped, recordDispatches, uploadAt, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

/** n, h, w, and the channels of a and b. */
type ConcatCase = [number, number, number, number, number];

// Odd sizes with batch 1 and 3: channels not multiples of 4, one input's only (both scalar), both
// (vec4); then the ResNet-34 UNet decoder's joins (upsampled + skip: 512 + 256, 256 + 128, 128 + 64,
// 64 + 64) at a 64x64 image.
const CASES: ConcatCase[] = [
  [1, 7, 9, 5, 3],
  [3, 13, 11, 3, 6],
  [1, 1, 1, 1, 1],
  [2, 3, 5, 4, 3],
  [1, 5, 3, 7, 8],
  [3, 5, 7, 4, 8],
  [1, 1, 1, 4, 4],
  [1, 3, 5, 12, 4],
  [2, 4, 4, 512, 256],
  [2, 8, 8, 256, 128],
  [2, 16, 16, 128, 64],
  [1, 32, 32, 64, 64],
];

const geometry = ([n, h, w, ca]: ConcatCase): SpatialGeometry => ({ n, h, w, c: ca });

/** Each concat dispatch recorded while `f` runs: kernel name and whether it ran as vec4. */
async function concatVariants(f: () => Promise<void>): Promise<[string, boolean][]> {
  const recorded = await recordDispatches(ctx.gpu, f);
  return recorded.filter((d) => d.shader.startsWith('concat')).map((d) => [d.kernel, d.defines?.VEC4 === true]);
}

/** GPU forward and backward against the reference; a and dy bound `pad` offset-alignment steps into their buffers, b twice that. */
async function compare(c: ConcatCase, seed: number, pad = 0): Promise<void> {
  const [n, h, w, ca, cb] = c;
  const g = geometry(c);
  const pixels = n * h * w;
  const r = rng(seed);
  const a = uniform(r, pixels * ca);
  const b = uniform(r, pixels * cb);
  const out = await ctx.be.download(K.concatChannels(ctx.be, uploadAt(ctx.be, a, pad), uploadAt(ctx.be, b, 2 * pad), g, ca, cb), pixels * (ca + cb));
  // Copies, forward and backward: bit for bit (c = 0 leaves only the 1e-30 floor).
  expectClose(out, K.concatChannels(ctx.cpu, Float64Array.from(a), Float64Array.from(b), g, ca, cb), 0, 0, 'forward');
  const dy = uniform(r, pixels * (ca + cb));
  const { da, db } = K.concatChannelsBackward(ctx.be, uploadAt(ctx.be, dy, pad), g, ca, cb);
  const ref = K.concatChannelsBackward(ctx.cpu, Float64Array.from(dy), g, ca, cb);
  expectClose(await ctx.be.download(da, pixels * ca), ref.da, 0, 0, 'da');
  expectClose(await ctx.be.download(db, pixels * cb), ref.db, 0, 0, 'db');
}

/** Runs compare and checks every kernel ran as vec4 exactly when both channel counts are multiples of 4. */
async function compareOnPath(c: ConcatCase, seed: number, pad = 0): Promise<void> {
  const vec4 = c[3] % 4 === 0 && c[4] % 4 === 0;
  expect(await concatVariants(() => compare(c, seed, pad))).toEqual([
    ['concatChannels', vec4],
    ['concatChannelsBackward(a)', vec4],
    ['concatChannelsBackward(b)', vec4],
  ]);
}

const pathOf = (c: ConcatCase): string => (c[3] % 4 === 0 && c[4] % 4 === 0 ? 'vec4' : 'scalar');

describe('concatChannels against the reference', () => {
  for (const c of CASES) {
    it(`forward and backward [${c.slice(0, 3).join(', ')}] ${c[3]} + ${c[4]} channels (${pathOf(c)})`, () => compareOnPath(c, c[3] * 1000 + c[4]));
  }
  // Offsets of one and two minStorageBufferOffsetAlignments (16 bytes or more each) keep vec4 alignment;
  // one that would not (4 bytes) is below every adapter's alignment, so it cannot be bound.
  for (const c of [[2, 3, 5, 8, 4], [2, 3, 5, 4, 3]] as ConcatCase[]) {
    it(`forward and backward [${c.slice(0, 3).join(', ')}] ${c[3]} + ${c[4]} channels (${pathOf(c)}), bound one and two offset alignments into their buffers`, () => compareOnPath(c, 8, 1));
  }
});

describe('concatChannels by hand', () => {
  const onBoth = async (f: <S>(be: Backend<S>) => S, size: number): Promise<Float64Array[]> => [
    await ctx.be.download(f(ctx.be), size),
    await ctx.cpu.download(f(ctx.cpu), size),
  ];
  // Two pixels; a has 2 channels, b has 3.
  const g: SpatialGeometry = { n: 1, h: 1, w: 2, c: 2 };
  const joined = [1, 2, 10, 20, 30, 3, 4, 40, 50, 60];

  it('puts a channels first, then b channels, pixel by pixel', async () => {
    const a = [1, 2, 3, 4];
    const b = [10, 20, 30, 40, 50, 60];
    for (const out of await onBoth((be) => K.concatChannels(be, be.upload(a), be.upload(b), g, 2, 3), 10)) {
      expect(Array.from(out)).toEqual(joined);
    }
  });

  it('splits dy back into da and db', async () => {
    for (const be of [ctx.be, ctx.cpu] as Backend[]) {
      const { da, db } = K.concatChannelsBackward(be, be.upload(joined), g, 2, 3);
      expect(Array.from(await be.download(da, 4)), be.name).toEqual([1, 2, 3, 4]);
      expect(Array.from(await be.download(db, 6)), be.name).toEqual([10, 20, 30, 40, 50, 60]);
    }
  });

  it('rejects a geometry whose channels are not those of a', () => {
    const wrong: SpatialGeometry = { n: 1, h: 1, w: 2, c: 5 };
    for (const be of [ctx.be, ctx.cpu] as Backend[]) {
      expect(() => K.concatChannels(be, be.upload([1, 2, 3, 4]), be.upload([1, 2, 3, 4, 5, 6]), wrong, 2, 3)).toThrow(/g\.c must be ca|must be those/);
    }
  });
});

describe('concat gradient (float64 finite differences on the reference)', () => {
  it('[2, 3, 5] with 4 + 3 channels, both inputs', () => {
    const r = rng(9);
    const res = gradcheck((a, b) => F.concat(a!, b!), [
      { values: uniform(r, 2 * 3 * 5 * 4), shape: [2, 3, 5, 4] },
      { values: uniform(r, 2 * 3 * 5 * 3), shape: [2, 3, 5, 3] },
    ], { maxChecks: 120 });
    expect(res.ok, res.detail).toBe(true);
    expect(res.checked).toBe(120 + 90);
  });

  it('shapes that differ outside the channel axis are an error naming both', () => {
    const a = Tensor.zeros(ctx.cpu, [1, 3, 5, 2]);
    const b = Tensor.zeros(ctx.cpu, [1, 3, 4, 2]);
    expect(() => F.concat(a, b)).toThrow(/\[1, 3, 5, 2\] and \[1, 3, 4, 2\]/);
  });
});

describe('GPU backward against the reference backward, through the tape', () => {
  it('F.concat [3, 7, 9] with 5 + 3 channels', async () => {
    const r = rng(12);
    const [sa, sb] = [[3, 7, 9, 5], [3, 7, 9, 3]];
    const a = uniform(r, 3 * 7 * 9 * 5);
    const b = uniform(r, 3 * 7 * 9 * 3);
    const dy = uniform(r, 3 * 7 * 9 * 8);
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const ta = Tensor.from(backend, a, sa, true);
        const tb = Tensor.from(backend, b, sb, true);
        const y = F.concat(ta, tb);
        expect(y.shape).toEqual([3, 7, 9, 8]);
        y.backward(Tensor.from(backend, dy, y.shape));
        return [ta.grad!, tb.grad!];
      });
    const [ga, gb] = await run(ctx.be);
    const [ra, rb] = await run(ctx.cpu);
    expectClose(ga!, ra!, 0, 0, 'da');
    expectClose(gb!, rb!, 0, 0, 'db');
  });
});

describe('concatChannels on more than 16.8 million elements (2-D dispatch grid)', () => {
  it('[1, 1025, 1025] with 16 + 3 channels: 20M outputs forward, 16.8M in da backward', async () => {
    const c: ConcatCase = [1, 1025, 1025, 16, 3];
    expect(1025 * 1025 * 16).toBeGreaterThan(65535 * 256);
    await compareOnPath(c, 4);
  });
});
