import { describe, expect, it } from 'vitest';
import { F, Tensor } from '../../src/autograd/index.js';
import type { TopkGeometry } from '../../src/core/geometry.js';
import { topkGroupSize, topkMask } from '../../src/kernels/topkMask.js';
import { type Rng, rng, uniform } from '../../src/util/random.js';
import { readScoped, recordDispatches, uploadAt, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

/** The kinds of row the table runs: each stresses another part of the keys or of the tie rule. */
const KINDS: Record<string, (r: Rng, size: number) => Float32Array> = {
  /** Distinct values in [-1, 1): no ties, both signs. */
  random: (r, size) => uniform(r, size),
  /** Integers 0..3: the k-th value is tied across many columns (and chunks of the workgroup). */
  ties: (r, size) => Float32Array.from({ length: size }, () => Math.floor(r() * 4)),
  /** +-10^e for e in -38..38, and infinities: the key order over exponents and signs. */
  signed: (r, size) =>
    Float32Array.from({ length: size }, () => {
      const v = r() < 0.02 ? Infinity : 10 ** Math.floor(r() * 77 - 38) * (1 + r());
      return r() < 0.5 ? -v : v;
    }),
  /** -0, +0 and +-1: -0 and +0 are equal values, so their ties go by index alone. */
  zeros: (r, size) => Float32Array.from({ length: size }, () => [-0, 0, -0, 0, 1, -1][Math.floor(r() * 6)]!),
};

const COLS = [1, 7, 64, 1000, 4096, 65536];

/** k = 1, a middle k and k = cols (the distinct ones of them). */
const ksOf = (cols: number): number[] => [...new Set([1, Math.ceil(cols / 3), cols])];

/** The first element where `a` and `b` differ, with its row and column, or null. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>, cols: number): string | null {
  for (let i = 0; i < b.length; i++) {
    if (!Object.is(a[i], b[i])) return `row ${Math.floor(i / cols)}, column ${i % cols}: ${a[i]}, reference ${b[i]}`;
  }
  return a.length === b.length ? null : `length ${a.length}, reference ${b.length}`;
}

/** Asserts each row of `mask` is 0s and exactly k 1s. */
function expectKOnes(mask: ArrayLike<number>, g: TopkGeometry, what: string): void {
  for (let r = 0; r < g.rows; r++) {
    let ones = 0;
    for (let c = 0; c < g.cols; c++) {
      const v = mask[r * g.cols + c]!;
      if (v !== 0 && v !== 1) expect.fail(`${what}: row ${r}, column ${c} is ${v}, not 0 or 1`);
      ones += v;
    }
    expect(ones, `${what}: ones in row ${r}`).toBe(g.k);
  }
}

/** The GPU mask of x against the reference's, element for element; both have k ones per row. */
async function compare(x: Float32Array, g: TopkGeometry, what: string, group?: number): Promise<void> {
  const gpu = await ctx.be.download(topkMask(ctx.gpu, ctx.be.upload(x), g, group), g.rows * g.cols);
  const ref = K.topkMask(ctx.cpu, Float64Array.from(x), g);
  expectKOnes(ref, g, `${what} reference`);
  expectKOnes(gpu, g, what);
  expect(firstDifference(gpu, ref, g.cols), what).toBeNull();
}

describe('topkMask against the reference', () => {
  COLS.forEach((cols, ci) => {
    for (const [kind, make] of Object.entries(KINDS)) {
      it(`${kind} values, cols ${cols}, rows 1..5, k in ${ksOf(cols).join(', ')}`, async () => {
        const r = rng(cols * 7 + kind.length);
        // Every row count for every width: the k of each case cycles them too.
        for (const [ki, k] of ksOf(cols).entries()) {
          for (const rows of [1 + ((ci + ki) % 5), 5 - ((ci + ki) % 5)]) {
            const g = { rows, cols, k };
            await compare(make(r, rows * cols), g, `${kind} ${rows} x ${cols}, k ${k}`);
          }
        }
      });
    }
  });

  it('a 512 x 512 image per row, 1% of it kept', async () => {
    const g = { rows: 2, cols: 512 * 512, k: 2622 };
    await compare(KINDS.ties!(rng(3), g.rows * g.cols), g, 'ties');
    await compare(KINDS.random!(rng(4), g.rows * g.cols), g, 'random');
  });

  it('any power-of-two workgroup up to the device limit gives the same mask', async () => {
    const sizes = [1, 64, topkGroupSize(ctx.gpu)].filter((s) => s <= topkGroupSize(ctx.gpu));
    for (const group of new Set(sizes)) {
      for (const cols of [7, 1000, 4096]) {
        const g = { rows: 3, cols, k: Math.ceil(cols / 5) };
        await compare(KINDS.ties!(rng(group + cols), g.rows * g.cols), g, `ties, group ${group}, cols ${cols}`, group);
        await compare(KINDS.zeros!(rng(group + cols + 1), g.rows * g.cols), g, `zeros, group ${group}, cols ${cols}`, group);
      }
    }
  });

  it.each([
    [100, true],
    [7, false],
  ])('records one dispatch, one workgroup per row, into the pending encoder (no readback): cols %i, vec4 %s', async (cols, vec4) => {
    const g = { rows: 5, cols, k: 3 };
    const x = ctx.be.upload(uniform(rng(9), 5 * cols));
    let pending = -1;
    const recorded = await recordDispatches(ctx.gpu, async () => {
      K.topkMask(ctx.be, x, g);
      pending = ctx.gpu.pendingDispatches;
    });
    expect(pending).toBe(1);
    expect(recorded.map((d) => [d.kernel, d.workgroups, d.defines])).toEqual([['topkMask', [5, 1], { WG: topkGroupSize(ctx.gpu), VEC4: vec4 }]]);
  });

  it('NaNs (no order promised) still give k ones per row, and the kernel ends', async () => {
    for (const cols of [7, 64]) {
      const g = { rows: 4, cols, k: 3 };
      const x = uniform(rng(cols), g.rows * g.cols).map((v, i) => (i % 3 === 0 ? Number.NaN : v));
      expectKOnes(await ctx.be.download(K.topkMask(ctx.be, ctx.be.upload(x), g), g.rows * g.cols), g, `NaNs, cols ${cols}`);
    }
  });

  it('reads a binding that starts past the buffer start', async () => {
    const g = { rows: 3, cols: 50, k: 7 };
    const x = KINDS.ties!(rng(12), 150);
    const gpu = await ctx.be.download(K.topkMask(ctx.be, uploadAt(ctx.be, x, 1), g), 150);
    expect(firstDifference(gpu, K.topkMask(ctx.cpu, Float64Array.from(x), g), g.cols)).toBeNull();
  });
});

describe('F.topkMask', () => {
  /** The mask of `rows` by k on both backends. */
  const both = (rows: number[][], k: number) =>
    Promise.all(
      [ctx.be, ctx.cpu].map(async (be) => {
        const [mask] = await readScoped(() => [F.topkMask(Tensor.from(be, rows.flat(), [rows.length, rows[0]!.length]), k)]);
        return Array.from(mask!);
      }),
    );

  it.each([
    [[[3, 1, 3, 2]], 2, [1, 0, 1, 0]],
    // The tie at 3 goes to the lower index.
    [[[3, 1, 3, 2]], 1, [1, 0, 0, 0]],
    [[[3, 1, 3, 2]], 3, [1, 0, 1, 1]],
    [[[3, 1, 3, 2]], 4, [1, 1, 1, 1]],
    // Rows are independent; negatives order by value, not magnitude.
    [[[-1, -3, -2, 5], [-2, -2, -7, -2]], 2, [1, 0, 0, 1, 1, 1, 0, 0]],
    // -0 == +0: by index alone, whatever the signs.
    [[[-0, 0, -0, 0]], 2, [1, 1, 0, 0]],
    [[[0, -0, 0, -0]], 1, [1, 0, 0, 0]],
    [[[-0, -1, 0, -0, 1e-30]], 2, [1, 0, 0, 0, 1]],
    [[[-Infinity, 3.4e38, Infinity, -3.4e38]], 2, [0, 1, 1, 0]],
  ])('%j with k = %i is %j, on both backends', async (rows, k, want) => {
    const [gpu, cpu] = await both(rows, k);
    expect(cpu).toEqual(want);
    expect(gpu).toEqual(want);
  });

  it('is a constant: no tape, whatever x requires', async () => {
    for (const be of [ctx.be, ctx.cpu]) {
      const [mask] = await readScoped(() => {
        const m = F.topkMask(Tensor.from(be, [1, 2, 3], [1, 3], true), 1);
        expect(m.requiresGrad).toBe(false);
        expect(m.node).toBeNull();
        return [m];
      });
      expect(Array.from(mask!)).toEqual([0, 0, 1]);
    }
  });

  it('refuses a k outside 1..cols, naming k and cols, and a tensor that is not [rows, cols]', () => {
    for (const be of [ctx.be, ctx.cpu]) {
      const x = Tensor.from(be, [1, 2, 3, 4, 5, 6], [2, 3]);
      for (const k of [0, 4, -1, 1.5]) {
        expect(() => F.topkMask(x, k)).toThrow(`topkMask: k = ${k} is not an integer in 1..cols, cols = 3`);
      }
      expect(() => F.topkMask(x.reshape([6]), 1)).toThrow('topkMask: needs a [rows, cols] tensor, got [6]');
      expect(() => K.topkMask(be, x.data, { rows: 2, cols: 3, k: 4 })).toThrow('k = 4 is not an integer in 1..cols, cols = 3');
    }
    const x = ctx.be.upload(new Float32Array(10));
    expect(() => K.topkMask(ctx.be, x, { rows: 3, cols: 4, k: 1 })).toThrow('topkMask: x holds 10 elements, 3 rows of 4 need 12');
    expect(() => topkMask(ctx.gpu, x, { rows: 2, cols: 5, k: 1 }, 3)).toThrow(/a workgroup of 3 is not a power of two/);
  });
});
