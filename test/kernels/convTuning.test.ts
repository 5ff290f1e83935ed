// The conv kernels' tuning: the candidate lists (the kernels' files under src/kernels/conv/), tuneConvLayer, and the
// kernels' use of what the tuning table holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebGpuBackend } from '../../src/backend/webgpu/index.js';
import { loadAdapterTuning } from '../../src/gpu/tuning.js';
import { type Conv2dGeometry, conv2dGeometry, sizeOf } from '../../src/core/geometry.js';
import { canRunSharedTiles } from '../../src/gpu/subgroups.js';
import { conv2dCandidates, defaultConv2dTile } from '../../src/kernels/conv/forward.js';
import { defaultInputGradTile, inputGradCandidates } from '../../src/kernels/conv/input-grad.js';
import { defaultWeightGradTile, splitCandidates, weightGradCandidates, weightGradSplits } from '../../src/kernels/conv/weight-grad.js';
import type { ConvVariant, RegisterTile } from '../../src/kernels/conv/variant.js';
import { CONV_KERNELS, TUNED_CONV_KERNELS, chooseVariant, tuneConvLayer } from '../../src/kernels/conv/index.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

describe('candidate lists', () => {
  const stride1 = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 1, 1, false);
  const stride2 = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 2, 1, false);
  const odd = conv2dGeometry([1, 7, 9, 5], [3, 3, 5, 7], 1, 1, true);

  it('start with the heuristic default and hold no repeats', () => {
    for (const g of [stride1, stride2, odd]) {
      const lists = [
        [conv2dCandidates(ctx.gpu, g), defaultConv2dTile(ctx.gpu, g)],
        [inputGradCandidates(ctx.gpu, g), defaultInputGradTile(ctx.gpu, g)],
        [weightGradCandidates(ctx.gpu, g), defaultWeightGradTile(ctx.gpu, g)],
      ] as const;
      for (const [list, first] of lists) {
        expect(list[0]).toEqual(first);
        expect(new Set(list.map((c) => JSON.stringify(c))).size).toBe(list.length);
        expect(list.length).toBeGreaterThanOrEqual(4);
      }
    }
  });

  it('take the forward route for the input gradient only where it applies (stride 1, vec4 channels)', () => {
    const via = (g: Conv2dGeometry) => inputGradCandidates(ctx.gpu, g).filter((c) => c.kind === 'viaForward').length;
    expect(via(stride1)).toBeGreaterThanOrEqual(1);
    expect(via(stride2)).toBe(0);
    expect(via(odd)).toBe(0);
  });

  it('vary the weight-gradient split only where the split count changes', () => {
    // Enough pixels that the split follows the invocation target, not the minimum pixels per split; 32
    // input channels, where the default is a direct tile (Winograd takes 64 or more and never splits).
    const g = conv2dGeometry([2, 128, 128, 32], [3, 3, 32, 64], 1, 1, false);
    const base = defaultWeightGradTile(ctx.gpu, g);
    expect(base.kind).not.toBe('winograd');
    const splits = splitCandidates(ctx.gpu, g, base).map((t) => weightGradSplits(ctx.gpu, g, t));
    expect(splits[0]).toBe(weightGradSplits(ctx.gpu, g, base));
    expect(splits.length).toBeGreaterThan(1);
    expect(new Set(splits).size).toBe(splits.length);
    // One output row: no split target changes anything.
    const tiny = conv2dGeometry([1, 1, 1, 16], [1, 1, 16, 16], 1, 0, false);
    expect(splitCandidates(ctx.gpu, tiny, defaultWeightGradTile(ctx.gpu, tiny))).toHaveLength(1);
  });
});

describe('the conv kernels and the tuning table', () => {
  const g: Conv2dGeometry = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 2, 1, true);

  it('run the tuning the backend was given, never a file found behind its back', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'gpuseg-tuning-'));
    const saved = process.env.GPUSEG_CACHE_DIR;
    process.env.GPUSEG_CACHE_DIR = cache;
    try {
      const tuned: RegisterTile = { kind: 'register', tm: 4, nv: 4, wg: 64 };
      const file = await loadAdapterTuning(ctx.gpu.summary);
      file.table.set(TUNED_CONV_KERNELS.conv2d.key(g), { choice: tuned, ms: 1, defaultMs: 2 });
      await file.table.save(file.path);
      // The adapter's file now holds a tile for g; a backend made without a table does not see it.
      const plain = new WebGpuBackend(ctx.gpu);
      expect(plain.tuning.size).toBe(0);
      expect(chooseVariant('conv2d', ctx.gpu, plain.tuning, g)).toEqual(defaultConv2dTile(ctx.gpu, g));
      const given = new WebGpuBackend(ctx.gpu, (await loadAdapterTuning(ctx.gpu.summary)).table);
      expect(chooseVariant('conv2d', ctx.gpu, given.tuning, g)).toEqual(tuned);
    } finally {
      if (saved === undefined) delete process.env.GPUSEG_CACHE_DIR;
      else process.env.GPUSEG_CACHE_DIR = saved;
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('run the tuned tile when the table has a usable one, and their heuristic otherwise', async () => {
    ctx.be.tuning.clear();
    expect(chooseVariant('conv2d', ctx.gpu, ctx.be.tuning, g)).toEqual(defaultConv2dTile(ctx.gpu, g));
    const tuned: RegisterTile = { kind: 'register', tm: 4, nv: 4, wg: 64 };
    expect(tuned).not.toEqual(defaultConv2dTile(ctx.gpu, g));
    ctx.be.tuning.set(TUNED_CONV_KERNELS.conv2d.key(g), { choice: tuned, ms: 1, defaultMs: 2 });
    expect(chooseVariant('conv2d', ctx.gpu, ctx.be.tuning, g)).toEqual(tuned);
    // Another shape is not this entry's.
    const other = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 1, 1, true);
    expect(chooseVariant('conv2d', ctx.gpu, ctx.be.tuning, other)).toEqual(defaultConv2dTile(ctx.gpu, other));

    // The backend's conv2d now runs the tuned tile, and is still right.
    const r = rng(9);
    const [x, w, b] = [uniform(r, sizeOf([2, 9, 7, 16])), uniform(r, 9 * 16 * 24), uniform(r, 24)];
    const y = K.conv2d(ctx.be, ctx.be.upload(x), ctx.be.upload(w), ctx.be.upload(b), g);
    const got = await ctx.be.download(y, g.n * g.oh * g.ow * g.cout);
    const f64 = (a: Float32Array) => Float64Array.from(a);
    const ref = K.conv2d(ctx.cpu, f64(x), f64(w), f64(b), g);
    const mag = K.conv2d(ctx.cpu, f64(abs(x)), f64(abs(w)), f64(abs(b)), g);
    expectClose(got, ref, mag, 9 * 16 + 1, 'conv2d with the tuned tile');
    ctx.be.tuning.clear();
  });

  it('fall back to their heuristic on an entry they cannot use', () => {
    ctx.be.tuning.clear();
    const huge = 1 << 20;
    const cases: [string, unknown[], () => unknown, () => unknown][] = [
      [TUNED_CONV_KERNELS.conv2d.key(g), [
        { kind: 'shared', tm: 12, nv: 1, wg: 8 }, // tm not a multiple of the shared lanes
        { kind: 'register', tm: 8, nv: 2, wg: huge }, // more invocations than any device allows
        { kind: 'register', tm: 8, nv: 2 }, // no workgroup size
        { kind: 'register', tm: 8, nv: 2, wg: 64, shareX: true }, // a field of no kind
        { tm: 8, nv: 2, wg: 64, shareX: true }, // the previous format's tile: no kind
        { kind: 'viaForward', forward: { kind: 'register', tm: 8, nv: 2, wg: 64 } }, // not a conv2d kind
        { kind: 'register', tm: 8, nv: 2, wg: 64, targetInvocations: 64 }, // the weight gradient's field
        'tm8',
      ], () => chooseVariant('conv2d', ctx.gpu, ctx.be.tuning, g), () => defaultConv2dTile(ctx.gpu, g)],
      [TUNED_CONV_KERNELS.conv2dInputGrad.key(g), [
        { kind: 'shared', tm: 12, nv: 1, wg: 8 },
        { kind: 'register', tm: 4, nv: 2, wg: huge },
        { kind: 'register', tm: 0, nv: 2, wg: 64 },
        { kind: 'workgroup', wx: 16, wy: 16, tm: 4, nv: 1, bk: 16 }, // not an input-gradient kind
        { kind: 'viaForward', forward: { kind: 'register', tm: 8, nv: 2, wg: 64 } }, // g has stride 2
        { kind: 'viaForward', forward: 'default' },
        null,
      ], () => chooseVariant('conv2dInputGrad', ctx.gpu, ctx.be.tuning, g), () => defaultInputGradTile(ctx.gpu, g)],
      [TUNED_CONV_KERNELS.conv2dWeightGrad.key(g), [
        { kind: 'shared', tm: 2, nv: 2, wg: 12 }, // not whole groups of the shared lanes
        { kind: 'register', tm: 2, nv: 2, wg: 64, targetInvocations: -1 },
        { kind: 'register', tm: 2.5, nv: 2, wg: 64 },
        { tv: 2, nv: 2, wg: 64 }, // the previous format's tile
        { kind: 'workgroup', wx: 16, wy: 16, tk: 4, nv: 1, bp: 16 }, // the previous format's field names
        { kind: 'Register', tm: 2, nv: 2, wg: 64 },
        [],
      ], () => chooseVariant('conv2dWeightGrad', ctx.gpu, ctx.be.tuning, g), () => defaultWeightGradTile(ctx.gpu, g)],
    ];
    for (const [key, choices, choose, fallback] of cases) {
      for (const choice of choices) {
        ctx.be.tuning.set(key, { choice, ms: 1, defaultMs: 2 });
        expect(choose(), JSON.stringify(choice)).toEqual(fallback());
      }
    }
    ctx.be.tuning.clear();
  });

  it("on a discrete GPU's candidate lists (isSoftware false, on this device) the workgroup tiles join in and agree with the default", async () => {
    ctx.be.tuning.clear();
    const discrete = new Proxy(ctx.gpu, { get: (target, key) => (key === 'isSoftware' ? false : Reflect.get(target, key, target)) });
    const stride1 = conv2dGeometry([2, 9, 7, 16], [3, 3, 16, 24], 1, 1, false);
    const kinds = { conv2d: 'workgroup', conv2dInputGrad: 'viaForward', conv2dWeightGrad: 'workgroup' } as const;
    for (const kernel of CONV_KERNELS) {
      const r = await tuneConvLayer(discrete, ctx.be.tuning, kernel, stride1, { roundMs: 1, rounds: 1 });
      const workgroup = r.results.filter((c) => (c.variant as ConvVariant).kind === kinds[kernel]);
      expect(workgroup.length, kernel).toBeGreaterThanOrEqual(4);
      expect(r.results.filter((c) => c.rejected)).toEqual([]);
    }
    ctx.be.tuning.clear();
  });

  it('tuneConvLayer measures every candidate of each kernel, none disagreeing, and the kernel then runs the winner', async () => {
    ctx.be.tuning.clear();
    for (const kernel of CONV_KERNELS) {
      const r = await tuneConvLayer(ctx.gpu, ctx.be.tuning, kernel, g, { roundMs: 2, rounds: 1 });
      expect(r.results.filter((c) => c.rejected)).toEqual([]);
      expect(r.results.length).toBeGreaterThanOrEqual(canRunSharedTiles(ctx.gpu) ? 8 : 4);
      expect(chooseVariant(kernel, ctx.gpu, ctx.be.tuning, g)).toEqual(r.best);
      const key = TUNED_CONV_KERNELS[kernel].key(g);
      expect(ctx.be.tuning.get(key)).toEqual({ choice: r.best, ms: r.bestMs, defaultMs: r.defaultMs });
    }
    expect(ctx.be.tuning.size).toBe(3);
    ctx.be.tuning.clear();
  });
});
