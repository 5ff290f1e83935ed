import { describe, expect, it } from 'vitest';
import { type Conv2dGeometry, conv2dGeometry, sizeOf } from '../../src/backend/geometry.js';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { canShareA } from '../../src/gpu/subgroups.js';
import { MIN_GAIN, relativeDifference, tune } from '../../src/kernels/autotune.js';
import {
  CONV2D_TILE,
  type Conv2dTile,
  chooseConv2dTile,
  conv2dTiled,
  conv2dTuningKey,
  defaultConv2dTile,
} from '../../src/kernels/conv2d.js';
import {
  chooseInputGradTile,
  chooseWeightGradTile,
  defaultInputGradTile,
  defaultWeightGradTile,
  inputGradTuningKey,
  weightGradTuningKey,
} from '../../src/kernels/conv2dGrad.js';
import { CONV_KERNELS, tuneConvLayer } from '../../src/kernels/convTuning.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, useGpu } from '../helpers.js';

const ctx = useGpu();

describe('relativeDifference', () => {
  it('is the largest difference over the largest |reference|, and fails NaN and length mismatches', () => {
    const ref = Float32Array.of(1, -4, 2);
    expect(relativeDifference(Float32Array.of(1, -4, 2), ref)).toBe(0);
    expect(relativeDifference(Float32Array.of(1, -3, 2), ref)).toBeCloseTo(0.25, 12);
    expect(relativeDifference(Float32Array.of(1, Number.NaN, 2), ref)).toBe(Infinity);
    expect(relativeDifference(Float32Array.of(1, -4), ref)).toBe(Infinity);
    expect(relativeDifference(Float32Array.of(0, 1), Float32Array.of(0, 0))).toBe(Infinity);
  });
});

/**
 * A stand-in kernel whose variants differ in cost by construction: `repeat` runs of one conv layer (about
 * 19 MFLOP each), `wrong` on other weights, `throws` as a tile the device rejects.
 */
interface Variant {
  repeat: number;
  wrong?: boolean;
  throws?: boolean;
}

function standIn(): { key: string; run: (v: Variant) => BufferRef } {
  const g = conv2dGeometry([1, 32, 32, 32], [3, 3, 32, 32], 1, 1, false);
  const r = rng(3);
  const x = ctx.be.upload(uniform(r, 32 * 32 * 32));
  const w = ctx.be.upload(uniform(r, 9 * 32 * 32));
  const other = ctx.be.upload(uniform(r, 9 * 32 * 32));
  const run = (v: Variant): BufferRef => {
    if (v.throws) throw new Error('this tile needs subgroups');
    let y = conv2dTiled(ctx.gpu, x, v.wrong ? other : w, null, g, CONV2D_TILE);
    for (let i = 1; i < v.repeat; i++) {
      ctx.gpu.release(y);
      y = conv2dTiled(ctx.gpu, x, w, null, g, CONV2D_TILE);
    }
    return y;
  };
  return { key: `standIn#${Math.random()}`, run };
}

describe('tune', () => {
  it('keeps the fastest variant, rejects one that fails and one whose output differs', async () => {
    const { key, run } = standIn();
    const candidates: Variant[] = [{ repeat: 3 }, { repeat: 6 }, { repeat: 1 }, { repeat: 1, wrong: true }, { repeat: 1, throws: true }];
    const r = await tune(ctx.gpu, { kernel: 'standIn', key, candidates, run }, { roundMs: 20 });
    expect(r.best).toEqual({ repeat: 1 });
    expect(r.results.map((c) => c.variant)).toEqual(candidates);
    expect(r.results[3]!.rejected).toMatch(/output differs from the default/);
    expect(r.results[4]!.rejected).toMatch(/needs subgroups/);
    const timed = r.results.filter((c) => c.ms !== undefined).map((c) => c.ms!);
    expect(timed).toHaveLength(3);
    expect(r.bestMs).toBe(Math.min(...timed));
    expect(r.defaultMs).toBe(r.results[0]!.ms);
    // Three runs against one: far past the noise.
    expect(r.bestMs).toBeLessThan(r.defaultMs * (1 - MIN_GAIN));
    expect(ctx.gpu.tuning.get(key)).toEqual({ choice: { repeat: 1 }, ms: r.bestMs, defaultMs: r.defaultMs });
  });

  it('keeps the default when no variant is faster, and fails when the default fails', async () => {
    const { key, run } = standIn();
    const r = await tune(ctx.gpu, { kernel: 'standIn', key, candidates: [{ repeat: 1 }, { repeat: 3 }], run }, { roundMs: 10 });
    expect(r.best).toEqual({ repeat: 1 });
    expect(ctx.gpu.tuning.get(key)?.choice).toEqual({ repeat: 1 });
    await expect(tune(ctx.gpu, { kernel: 'standIn', key, candidates: [{ repeat: 1, throws: true }, { repeat: 1 }], run }))
      .rejects.toThrow(/the default variant .* failed: this tile needs subgroups/);
  });
});

describe('the conv kernels and the tuning table', () => {
  const g: Conv2dGeometry = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 2, 1, true);

  it('run the tuned tile when the table has a usable one, and their heuristic otherwise', async () => {
    ctx.gpu.tuning.clear();
    expect(chooseConv2dTile(ctx.gpu, g)).toEqual(defaultConv2dTile(ctx.gpu, g));
    const tuned: Conv2dTile = { tm: 4, nv: 4, wg: 64 };
    expect(tuned).not.toEqual(defaultConv2dTile(ctx.gpu, g));
    ctx.gpu.tuning.set(conv2dTuningKey(g), { choice: tuned, ms: 1, defaultMs: 2 });
    expect(chooseConv2dTile(ctx.gpu, g)).toEqual(tuned);
    // Another shape is not this entry's.
    const other = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 1, 1, true);
    expect(chooseConv2dTile(ctx.gpu, other)).toEqual(defaultConv2dTile(ctx.gpu, other));

    // The backend's conv2d now runs the tuned tile, and is still right.
    const r = rng(9);
    const [x, w, b] = [uniform(r, sizeOf([2, 9, 7, 16])), uniform(r, 9 * 16 * 24), uniform(r, 24)];
    const y = ctx.be.conv2d(ctx.be.upload(x), ctx.be.upload(w), ctx.be.upload(b), g);
    const got = await ctx.be.download(y, g.n * g.oh * g.ow * g.cout);
    const f64 = (a: Float32Array) => Float64Array.from(a);
    const ref = ctx.cpu.conv2d(f64(x), f64(w), f64(b), g);
    const mag = ctx.cpu.conv2d(f64(abs(x)), f64(abs(w)), f64(abs(b)), g);
    expectClose(got, ref, mag, 9 * 16 + 1, 'conv2d with the tuned tile');
    ctx.gpu.tuning.clear();
  });

  it('fall back to their heuristic on an entry they cannot use', () => {
    ctx.gpu.tuning.clear();
    const huge = 1 << 20;
    const cases: [string, unknown[], () => unknown, () => unknown][] = [
      [conv2dTuningKey(g), [
        { tm: 12, nv: 1, wg: 8, shareX: true }, // tm not a multiple of the shared lanes
        { tm: 8, nv: 2, wg: huge }, // more invocations than any device allows
        { tm: 8, nv: 2 }, // no workgroup size
        { tm: 8, nv: 2, wg: 64, shareX: 'yes' },
        'tm8',
      ], () => chooseConv2dTile(ctx.gpu, g), () => defaultConv2dTile(ctx.gpu, g)],
      [inputGradTuningKey(g), [
        { tm: 12, nv: 1, wg: 8, shareDy: true },
        { tm: 4, nv: 2, wg: huge },
        { tm: 0, nv: 2, wg: 64 },
        null,
      ], () => chooseInputGradTile(ctx.gpu, g), () => defaultInputGradTile(ctx.gpu, g)],
      [weightGradTuningKey(g), [
        { tv: 2, nv: 2, wg: 12, shareX: true }, // not whole groups of the shared lanes
        { tv: 2, nv: 2, wg: 64, targetInvocations: -1 },
        { tv: 2.5, nv: 2, wg: 64 },
        [],
      ], () => chooseWeightGradTile(ctx.gpu, g), () => defaultWeightGradTile(ctx.gpu, g)],
    ];
    for (const [key, choices, choose, fallback] of cases) {
      for (const choice of choices) {
        ctx.gpu.tuning.set(key, { choice, ms: 1, defaultMs: 2 });
        expect(choose(), JSON.stringify(choice)).toEqual(fallback());
      }
    }
    ctx.gpu.tuning.clear();
  });

  it("on a discrete GPU's candidate lists (isSoftware false, on this device) the workgroup tiles join in and agree with the default", async () => {
    ctx.gpu.tuning.clear();
    const discrete = new Proxy(ctx.gpu, { get: (target, key) => (key === 'isSoftware' ? false : Reflect.get(target, key, target)) });
    const stride1 = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 1, 1, false);
    const kinds = { conv2d: 'workgroup', conv2dInputGrad: 'viaForward', conv2dWeightGrad: 'workgroup' } as const;
    for (const kernel of CONV_KERNELS) {
      const r = await tuneConvLayer(discrete, kernel, stride1, { roundMs: 1, rounds: 1 });
      const workgroup = r.results.filter((c) => kinds[kernel] in (c.variant as object));
      expect(workgroup.length, kernel).toBeGreaterThanOrEqual(4);
      expect(r.results.filter((c) => c.rejected)).toEqual([]);
    }
    ctx.gpu.tuning.clear();
  });

  it('tuneConvLayer measures every candidate of each kernel, none disagreeing, and the kernel then runs the winner', async () => {
    ctx.gpu.tuning.clear();
    const choose = { conv2d: chooseConv2dTile, conv2dInputGrad: chooseInputGradTile, conv2dWeightGrad: chooseWeightGradTile };
    for (const kernel of CONV_KERNELS) {
      const r = await tuneConvLayer(ctx.gpu, kernel, g, { roundMs: 2, rounds: 1 });
      expect(r.results.filter((c) => c.rejected)).toEqual([]);
      expect(r.results.length).toBeGreaterThanOrEqual(canShareA(ctx.gpu) ? 8 : 4);
      expect(choose[kernel](ctx.gpu, g)).toEqual(r.best);
      const key = { conv2d: conv2dTuningKey, conv2dInputGrad: inputGradTuningKey, conv2dWeightGrad: weightGradTuningKey }[kernel](g);
      expect(ctx.gpu.tuning.get(key)).toEqual({ choice: r.best, ms: r.bestMs, defaultMs: r.defaultMs });
    }
    expect(ctx.gpu.tuning.size).toBe(3);
    ctx.gpu.tuning.clear();
  });
});
