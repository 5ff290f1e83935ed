import { describe, expect, it } from 'vitest';
import type { AdamHyper } from '../../src/core/types.js';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { adamInRanges, bindingRanges } from '../../src/kernels/adam.js';
import { rng, uniform } from '../../src/util/random.js';
import { expectClose, recordDispatches, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

/**
 * Roundings per step, relative to the magnitudes below: m takes 3 (two products, one add; beta1 and
 * 1 - beta1 are float32 roundings of their own), v 4 (g * g too), the update about 8 more (two bias
 * divisions, sqrt, + eps, the quotient, wd * p, the add, lr *, the subtraction).
 */
const M_ROUNDINGS = 3;
const V_ROUNDINGS = 4;
const P_ROUNDINGS = 8;

/**
 * Tolerances after `steps` steps. The moments' errors decay by beta < 1 but are fed each step, so after
 * k steps they are within k * (their roundings); p keeps every step's error, and each step's quotient
 * carries the moments' errors so far (v's halved by the sqrt): sum over k of P + M k + V k / 2.
 */
function tolerances(steps: number): { m: number; v: number; p: number } {
  const p = steps * P_ROUNDINGS + ((M_ROUNDINGS + V_ROUNDINGS / 2) * steps * (steps + 1)) / 2;
  return { m: steps * M_ROUNDINGS, v: steps * V_ROUNDINGS, p };
}

const BASE: Omit<AdamHyper, 'step'> = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

interface State {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/**
 * Runs `steps` Adam steps on the GPU (through `update`, which gets the four buffers) and on the
 * reference, and compares p, m and v. The magnitudes come from the reference run on |p0| and |g| with
 * lr negated: its m sums |terms| of m, and its p adds up |p0| and every |update| instead of subtracting.
 */
async function compareSteps(size: number, steps: number, hyper: Omit<AdamHyper, 'step'>, seed: number,
  update: (refs: BufferRef[], h: AdamHyper) => void = (refs, h) => K.adam(ctx.be, refs[0]!, refs[1]!, refs[2]!, refs[3]!, size, h),
): Promise<void> {
  const r = rng(seed);
  const p0 = uniform(r, size);
  const grads = Array.from({ length: steps }, () => uniform(r, size, -0.5, 0.5));
  // Zeros uploaded, not filled: fill binds the whole buffer, which the largest case cannot.
  const zeros = new Float32Array(size);
  const refs = [ctx.be.upload(p0), ctx.be.alloc(size), ctx.be.upload(zeros), ctx.be.upload(zeros)];
  const ref: State = { p: Float64Array.from(p0), m: new Float64Array(size), v: new Float64Array(size) };
  const mag: State = { p: Float64Array.from(p0, Math.abs), m: new Float64Array(size), v: new Float64Array(size) };
  for (let k = 0; k < steps; k++) {
    const h = { ...hyper, step: k + 1 };
    ctx.gpu.write(refs[1]!, grads[k]!);
    update(refs, h);
    K.adam(ctx.cpu, ref.p, Float64Array.from(grads[k]!), ref.m, ref.v, size, h);
    K.adam(ctx.cpu, mag.p, Float64Array.from(grads[k]!, Math.abs), mag.m, mag.v, size, { ...h, lr: -h.lr });
  }
  const [p, m, v] = [await ctx.be.download(refs[0]!, size), await ctx.be.download(refs[2]!, size), await ctx.be.download(refs[3]!, size)];
  for (const b of refs) ctx.be.free(b);
  const tol = tolerances(steps);
  expectClose(m, ref.m, mag.m, tol.m, 'm');
  expectClose(v, ref.v, mag.v, tol.v, 'v');
  expectClose(p, ref.p, mag.p, tol.p, 'params');
}

type Variant = 'vec4' | 'scalar';

/** The variant (shaders/adam.wgsl's VEC4) of each adam dispatch recorded while `f` runs. */
async function adamVariants(f: () => Promise<void>): Promise<Variant[]> {
  const recorded = await recordDispatches(ctx.gpu, f);
  return recorded.filter((d) => d.kernel === 'adam').map((d) => (d.defines?.VEC4 === true ? 'vec4' : 'scalar'));
}

describe('adam against the reference', () => {
  // Each set of hyperparameters on a size that is whole vec4s and one that is not. The vec4 sizes hold
  // an odd number of vec4s (but 8), so the last invocation of the vec4 variant (2 vec4s each) has one
  // out of range.
  it.each([
    [1001, 'scalar', 'plain Adam', BASE],
    [1004, 'vec4', 'plain Adam', BASE],
    [1001, 'scalar', 'weight decay 0.05', { ...BASE, weightDecay: 0.05 }],
    [1004, 'vec4', 'weight decay 0.05', { ...BASE, weightDecay: 0.05 }],
    [7, 'scalar', 'eps 0.1 (large enough to matter)', { ...BASE, eps: 0.1 }],
    [8, 'vec4', 'eps 0.1 (large enough to matter)', { ...BASE, eps: 0.1 }],
    [65_539, 'scalar', 'weight decay, betas 0.8 and 0.99', { ...BASE, beta1: 0.8, beta2: 0.99, weightDecay: 0.01 }],
    [65_540, 'vec4', 'weight decay, betas 0.8 and 0.99', { ...BASE, beta1: 0.8, beta2: 0.99, weightDecay: 0.01 }],
  ] as const)('%i elements (%s), 6 steps, %s', async (size, variant, _what, hyper) => {
    const steps = 6;
    expect(await adamVariants(() => compareSteps(size, steps, hyper, size))).toEqual(Array(steps).fill(variant));
  });

  it('the first step moves every parameter by lr against its gradient sign (bias correction)', async () => {
    // Step 1: mhat = g and vhat = g^2 exactly in real numbers, so p -= lr * g / (|g| + eps).
    const size = 257;
    const g = uniform(rng(2), size).map((x) => (x === 0 ? 0.5 : x));
    const p = ctx.be.fill(0, size);
    K.adam(ctx.be, p, ctx.be.upload(g), ctx.be.fill(0, size), ctx.be.fill(0, size), size, { ...BASE, eps: 0, step: 1 });
    const got = await ctx.be.download(p, size);
    expectClose(got, Float64Array.from(g, (x) => -BASE.lr * Math.sign(x)), BASE.lr, 16, 'first step');
  });
});

describe('adam over bindings larger than the adapter allows', () => {
  it('cuts aligned ranges that cover every element once', () => {
    // lavapipe: 128 MiB bindings, 16-byte offset alignment.
    expect(bindingRanges(40_000_000, 134_217_728, 16)).toEqual([
      { start: 0, count: 33_554_432 },
      { start: 33_554_432, count: 6_445_568 },
    ]);
    expect(bindingRanges(1000, 4000, 16)).toEqual([{ start: 0, count: 1000 }]);
    // A limit that is no multiple of the alignment: ranges of 768 bytes.
    const ranges = bindingRanges(1001, 1000, 256);
    expect(ranges.map((r) => r.count)).toEqual([192, 192, 192, 192, 192, 41]);
    for (const r of ranges) expect((r.start * 4) % 256).toBe(0);
    expect(() => bindingRanges(10, 8, 16)).toThrow(/no aligned element/);
  });

  it('1001 elements through a 1 KiB binding limit: four dispatches, same result', async () => {
    const size = 1001;
    const variants = await adamVariants(() =>
      compareSteps(size, 3, { ...BASE, weightDecay: 0.02 }, 77, (refs, h) => {
        ctx.gpu.flush();
        adamInRanges(ctx.gpu, refs[0]!, refs[1]!, refs[2]!, refs[3]!, size, h, 1024);
        expect(ctx.gpu.pendingDispatches).toBe(4);
      }),
    );
    // Ranges of 256, 256, 256 and 233 elements: the last is no whole vec4s.
    const perStep: Variant[] = ['vec4', 'vec4', 'vec4', 'scalar'];
    expect(variants).toEqual([...perStep, ...perStep, ...perStep]);
  });

  it('refuses a step below 1 and a buffer too small', () => {
    const a = ctx.be.fill(0, 8);
    expect(() => K.adam(ctx.be, a, a, a, a, 8, { ...BASE, step: 0 })).toThrow(/step 0/);
    expect(() => K.adam(ctx.be, a, a, a, a, 9, { ...BASE, step: 1 })).toThrow(/params holds 8 elements, not 9/);
    ctx.be.free(a);
  });
});

describe('adam over more than one binding of the real adapter', () => {
  it('maxStorageBufferBindingSize / 4 + 1001 elements: two dispatches reach every element', async () => {
    const { maxStorageBufferBindingSize: binding, maxBufferSize, minStorageBufferOffsetAlignment: align } = ctx.gpu.limits;
    const size = binding / 4 + 1001;
    if (size * 4 > maxBufferSize) {
      // This adapter (SwiftShader: both 1 GiB) allows no buffer larger than one binding, so the largest
      // buffer it allows binds whole: one range, one dispatch.
      expect(bindingRanges(Math.floor(maxBufferSize / 4), binding, align)).toEqual([{ start: 0, count: Math.floor(maxBufferSize / 4) }]);
      return;
    }
    // g cycles through 7 values (2^25 is 2 mod 7, so a misplaced second range shows); p starts at 1.
    const PERIOD = 7;
    const cycle = Float64Array.from({ length: PERIOD }, (_, k) => (k - 3.5) / 4);
    const g = Float32Array.from({ length: size }, (_, i) => cycle[i % PERIOD]!);
    const zeros = new Float32Array(size);
    const [p, grads, m, v] = [ctx.be.upload(new Float32Array(size).fill(1)), ctx.be.upload(g), ctx.be.upload(zeros), ctx.be.upload(zeros)];
    const h = { ...BASE, weightDecay: 0.01, step: 1 };
    ctx.gpu.flush();
    // The first range is whole vec4s, the second (1001 elements) is not.
    const variants = await adamVariants(async () => K.adam(ctx.be, p, grads, m, v, size, h));
    expect(ctx.gpu.pendingDispatches).toBe(2);
    expect(variants).toEqual(['vec4', 'scalar']);
    const want = { p: new Float64Array(PERIOD).fill(1), m: new Float64Array(PERIOD), v: new Float64Array(PERIOD) };
    K.adam(ctx.cpu, want.p, cycle, want.m, want.v, PERIOD, h);
    const got = { p: await ctx.be.download(p, size), m: await ctx.be.download(m, size) };
    for (const b of [p, grads, m, v]) ctx.be.free(b);
    // One step from zero moments: p within the roundings of one step of |p| + lr (1 + wd), m within 3.
    expectClose(got.p, Float64Array.from({ length: size }, (_, i) => want.p[i % PERIOD]!), 1 + h.lr * (1 + h.weightDecay), tolerances(1).p, 'params');
    expectClose(got.m, Float64Array.from({ length: size }, (_, i) => want.m[i % PERIOD]!), Math.abs(cycle[0]!), tolerances(1).m, 'm');
  });
});
