import { describe, expect, it } from 'vitest';
import { conv2dGeometry } from '../../src/core/geometry.js';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { MIN_GAIN, relativeDifference, tune } from '../../src/kernels/autotune.js';
import { CONV2D_TILE, conv2dTiled } from '../../src/kernels/conv/forward.js';
import { rng, uniform } from '../../src/util/random.js';
import { useGpu } from '../helpers.js';

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
    const r = await tune(ctx.gpu, ctx.be.tuning, { kernel: 'standIn', key, candidates, run }, { roundMs: 20 });
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
    expect(ctx.be.tuning.get(key)).toEqual({ choice: { repeat: 1 }, ms: r.bestMs, defaultMs: r.defaultMs });
  });

  it('keeps the default when no variant is faster, and fails when the default fails', async () => {
    const { key, run } = standIn();
    const r = await tune(ctx.gpu, ctx.be.tuning, { kernel: 'standIn', key, candidates: [{ repeat: 1 }, { repeat: 3 }], run }, { roundMs: 10 });
    expect(r.best).toEqual({ repeat: 1 });
    expect(ctx.be.tuning.get(key)?.choice).toEqual({ repeat: 1 });
    await expect(tune(ctx.gpu, ctx.be.tuning, { kernel: 'standIn', key, candidates: [{ repeat: 1, throws: true }, { repeat: 1 }], run }))
      .rejects.toThrow(/the default variant .* failed: this tile needs subgroups/);
  });
});
