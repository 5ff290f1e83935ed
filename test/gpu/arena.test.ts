import { describe, expect, it } from 'vitest';
import type { AdamHyper } from '../../src/core/types.js';
import { Arena } from '../../src/gpu/arena.js';
import { rng, uniform } from '../../src/util/random.js';
import { expectClose, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

// A bias, a scalar, an empty slot, a conv weight 3x3x3x16, odd sizes around the alignment.
const SIZES = [16, 1, 0, 432, 7, 5, 1001];

describe('Arena.layout (no device)', () => {
  for (const align of [4, 16, 256]) {
    it(`aligned, disjoint, in order, padded: alignment ${align} bytes`, () => {
      const { offsets, totalElements } = Arena.layout(SIZES, align);
      expect(offsets).toHaveLength(SIZES.length);
      let end = 0;
      SIZES.forEach((n, i) => {
        expect(offsets[i]! % align).toBe(0);
        expect(offsets[i]!).toBeGreaterThanOrEqual(end);
        // No more padding than one alignment step.
        expect(offsets[i]! - end).toBeLessThan(align);
        end = offsets[i]! + 4 * n;
      });
      expect((totalElements * 4) % align).toBe(0);
      expect(totalElements * 4).toBeGreaterThanOrEqual(end);
      expect(totalElements * 4 - end).toBeLessThan(align);
    });
  }

  it('packs tightly at 4-byte alignment and pads at 256', () => {
    expect(Arena.layout([3, 2, 5], 4)).toEqual({ offsets: [0, 12, 20], totalElements: 10 });
    expect(Arena.layout([3, 2, 5], 256)).toEqual({ offsets: [0, 256, 512], totalElements: 192 });
    expect(Arena.layout([], 16).totalElements).toBe(4);
    expect(() => Arena.layout([2.5], 16)).toThrow(/bad slice size 2.5/);
    expect(() => Arena.layout([1], 6)).toThrow(/alignment 6/);
  });
});

describe('Arena on the device', () => {
  it('starts at zero, slices are exactly their size, and gaps stay zero', async () => {
    const arena = new Arena(ctx.gpu, SIZES);
    const align = ctx.gpu.limits.minStorageBufferOffsetAlignment;
    expect(arena.whole.size).toBe(arena.totalElements * 4);
    expect(arena.size).toBe(arena.totalElements);
    arena.slices.forEach((s, i) => {
      expect(s.buffer).toBe(arena.buffer);
      expect(s.size).toBe(SIZES[i]! * 4);
      expect(s.offset % align).toBe(0);
    });
    expect(Array.from(await ctx.gpu.readF32(arena.whole)).every((x) => x === 0)).toBe(true);
    // Writing each slice with its index + 1 fills exactly that slice.
    arena.slices.forEach((s, i) => {
      if (s.size > 0) ctx.gpu.write(s, new Float32Array(SIZES[i]!).fill(i + 1));
    });
    const whole = await ctx.gpu.readF32(arena.whole);
    const owner = new Int32Array(arena.totalElements);
    arena.slices.forEach((s, i) => owner.fill(i + 1, s.offset / 4, s.offset / 4 + SIZES[i]!));
    expect(Array.from(whole)).toEqual(Array.from(owner));
    arena.destroy();
    arena.destroy();
  });

  it('one Adam dispatch over four arenas equals Adam per parameter on the reference', async () => {
    const r = rng(17);
    const [params, grads, m, v] = ['params', 'grads', 'adam.m', 'adam.v'].map((label) => new Arena(ctx.gpu, SIZES, label));
    const host = SIZES.map((n) => ({ p: Float64Array.from(uniform(r, n)), m: new Float64Array(n), v: new Float64Array(n) }));
    params!.slices.forEach((s, i) => s.size > 0 && ctx.gpu.write(s, Float32Array.from(host[i]!.p)));
    const STEPS = 3;
    for (let step = 1; step <= STEPS; step++) {
      const h: AdamHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step };
      const g = SIZES.map((n) => uniform(r, n, -0.5, 0.5));
      grads!.slices.forEach((s, i) => s.size > 0 && ctx.gpu.write(s, g[i]!));
      ctx.gpu.flush();
      K.adam(ctx.be, params!.whole, grads!.whole, m!.whole, v!.whole, params!.totalElements, h);
      expect(ctx.gpu.pendingDispatches).toBe(1);
      host.forEach((x, i) => K.adam(ctx.cpu, x.p, Float64Array.from(g[i]!), x.m, x.v, SIZES[i]!, h));
    }
    const whole = await ctx.gpu.readF32(params!.whole);
    params!.slices.forEach((s, i) => {
      const got = whole.subarray(s.offset / 4, s.offset / 4 + SIZES[i]!);
      // |p| <= 1 moved by about lr (1 + wd) a step (|mhat| / sqrt(vhat) stays within 1.004 over 3 steps
      // of these betas); 8 roundings a step plus the moments' (test/kernels/adam.test.ts): 42, say 50.
      expectClose(got, host[i]!.p, 1 + STEPS * 0.0101, 50, `parameter ${i}`);
    });
    // Gaps: zero parameters, gradients and moments make a zero update.
    const inSlice = new Uint8Array(params!.totalElements);
    params!.slices.forEach((s, i) => inSlice.fill(1, s.offset / 4, s.offset / 4 + SIZES[i]!));
    expect(Array.from(whole).filter((x, j) => !inSlice[j] && x !== 0)).toEqual([]);
    for (const a of [params, grads, m, v]) a!.destroy();
  });
});
