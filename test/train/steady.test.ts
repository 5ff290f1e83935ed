// A training loop in steady state allocates nothing new on the GPU: the buffer pool holds the same
// buffers, and each step gets the same ones as the step before, so the bind-group cache grows only by the
// groups of new scalars (the feature term's cell counts, until they repeat) and the
// process's memory mappings stay flat. Before the pool handed out its oldest buffers first, the cache grew by about a hundred groups a
// step and a 64x64 run died of a std::bad_alloc after a few hundred steps.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { materialize } from '../../src/model/module.js';
import { Unet } from '../../src/model/unet.js';
import { type BatchSources, batchLayout, makeBatch } from '../../src/train/batch.js';
import { Adam } from '../../src/train/optimizer.js';
import { recordTrainStep } from '../../src/train/step.js';
import { rng, uniform } from '../../src/util/random.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

const SIZE = 32;
const WARMUP = 4;
/** The bound: a hundred steps after warm-up. */
const STEPS = 100;
/**
 * New scalars bring new uniforms, and with them new bind groups: only the 1/count of the feature term's
 * two means (normal and defect cells) while those counts have not been seen. Adam's learning rate and
 * bias corrections, new every step, rewrite one uniform in place (Dispatch.uniformSlot); before that
 * they added a buffer and about three bind groups a step (+113 uniforms and +9.9 MiB of resident
 * memory over the second 50 of 100 steps).
 */
const NEW_GROUPS_PER_STEP = 1;

function sources(): BatchSources {
  const r = rng(3);
  const pixels = SIZE * SIZE;
  const shots = [0, 1].map((k) => {
    const mask = new Uint8Array(pixels);
    for (let y = 6 + 10 * k; y < 12 + 10 * k; y++) mask.fill(1, y * SIZE + 4, y * SIZE + 14);
    return { image: uniform(r, pixels * 3, 0, 1), mask };
  });
  const normals = [0, 1, 2, 3].map(() => Uint8Array.from(uniform(r, pixels * 3, 0, 256), Math.floor));
  return { shots, normalCount: normals.length, normal: async (i) => normals[i]! };
}

/**
 * Resident memory outside V8's heap (the driver's buffers, Dawn's objects: rss - heapTotal) over the
 * second half of the steps. V8's own heap is left out, as it grows with garbage until a collection
 * runs: over the same 50 steps rss grew 17.9 MiB in one CI run and 3.6 MiB on a quiet machine, while
 * rss - heapTotal moved by under 1 MiB.
 */
// 16 MiB: the final CI run of 2026-12-02 saw exactly +8.0 MiB once (one arena or thread stack, not a
// per-step growth); leaks of uniforms and bind groups are bounded by their own counts below.
const NATIVE_GROWTH_BOUND = 16 * 2 ** 20;
/** Steps at the end of each half whose settled memory is sampled (see the loop). */
const WINDOW = 8;
/**
 * Each step's host arrays (the batch, about 130 KiB at this size, above glibc's mmap threshold) live
 * outside V8's heap until a collection frees them; on a loaded machine collections lag, and one CI run
 * saw +16.2 MiB and +103 mappings over 50 steps that one collection gave back. So memory is measured
 * after a full collection: what is left is what the loop keeps. Even settled, one sample can sit high
 * (another CI run: +14.6 MiB between two single samples, where other runs gave -3.4 and -3.9 MiB).
 */
setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;
/** A full collection, then another after V8's background sweeper has had time to free the buffers. */
const settle = async () => {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 200));
  collectGarbage();
};
const nativeMemory = async () => {
  await settle();
  const m = process.memoryUsage();
  return m.rss - m.heapTotal;
};

const mappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').length;

describe('a steady training loop', () => {
  it('holds the same GPU buffers and bind groups from step to step (the full method, 32x32)', async () => {
    const model = new Unet();
    const storage = materialize(model, ctx.be, rng(0));
    const opt = new Adam(storage, model.namedParameters().map(([, s]) => s));
    const src = sources();
    const r = rng(4);
    const options = { size: SIZE, layout: batchLayout(4, 4, true), cellStride: 8, paste: 'anywhere' as const };
    const cfg = { loss: 'bce' as const, nbr: true, lambdaBg: 1, lambdaFeat: 0.1, nbrLayer: 2 as const };
    const step = async () => recordTrainStep(model, opt, await makeBatch(options, src, r), cfg, 1e-4, true);
    try {
      for (let i = 0; i < WARMUP; i++) await step();
      const stats = () => ctx.gpu.pool.getStats();
      const native = await nativeMemory();
      const before = { groups: ctx.gpu.cachedBindGroups, buffers: stats().buffers, bytes: stats().heldBytes, maps: mappings(), native };
      const uniforms: number[] = [];
      // Settled memory after each of the last WINDOW steps of each half: the least of each window, so that
      // a passing spike (an allocator arena grown for a moment) does not count, while a leak, which raises
      // every sample, does.
      const early: number[] = [];
      const late: number[] = [];
      for (let i = 0; i < STEPS; i++) {
        await step();
        uniforms.push(ctx.gpu.cachedUniforms);
        if (i >= STEPS / 2 - WINDOW && i < STEPS / 2) early.push(await nativeMemory());
        if (i >= STEPS - WINDOW) late.push(await nativeMemory());
      }
      const halfway = Math.min(...early);
      const nativeGrowth = Math.min(...late) - halfway;
      console.log(`steady: ${STEPS} steps, native memory +${((halfway - before.native) / 2 ** 20).toFixed(1)} MiB then +${(nativeGrowth / 2 ** 20).toFixed(1)} MiB, bind groups +${ctx.gpu.cachedBindGroups - before.groups}, uniforms ${uniforms[0]} -> ${uniforms.at(-1)}, maps +${mappings() - before.maps}`);
      expect(stats().buffers, 'pooled buffers').toBe(before.buffers);
      expect(stats().heldBytes, 'pooled bytes').toBe(before.bytes);
      // Uniform buffers grow only by the feature term's counts not yet seen.
      expect(uniforms.at(-1)! - uniforms[0]!, 'new uniform buffers').toBeLessThanOrEqual(NEW_GROUPS_PER_STEP * STEPS);
      expect(nativeGrowth, 'native memory growth over the second half').toBeLessThan(NATIVE_GROWTH_BOUND);
      expect(ctx.gpu.cachedBindGroups - before.groups, 'new bind groups').toBeLessThanOrEqual(NEW_GROUPS_PER_STEP * STEPS);
      // Each new uniform and bind group may take a small mapping of its own (bounded by the uniform
      // cache); the bind-group leak added about a hundred a step at 64x64.
      expect(mappings() - before.maps, 'new memory mappings').toBeLessThan(2 * NEW_GROUPS_PER_STEP * STEPS);
    } finally {
      opt.destroy();
      storage.params.destroy();
      storage.buffers.destroy();
    }
  });
});
