// The weight gradient of conv2d (src/kernels/conv/weight-grad.ts) against the CPU reference, its default,
// every tile and split, on the UNet's layer kinds.
import { describe, expect, it } from 'vitest';
import { conv2dGeometry, sizeOf } from '../../src/core/geometry.js';
import { canRunSharedTiles } from '../../src/gpu/subgroups.js';
import {
  SHARED_WEIGHT_GRAD_TILE,
  WEIGHT_GRAD_TILE,
  WEIGHT_GRAD_WORKGROUP_TILES,
  WINOGRAD_WEIGHT_GRAD_TILE,
  conv2dWeightGradTiled,
  defaultWeightGradTile,
  splitCandidates,
  weightGradCandidates,
  weightGradSplits,
} from '../../src/kernels/conv/weight-grad.js';
import { workgroupTileBytes } from '../../src/kernels/conv/tiles.js';
import type { SharedTile, WeightGradVariant, WinogradTile, WorkgroupTile } from '../../src/kernels/conv/variant.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, useGpu } from '../helpers.js';
import { CASES, type Case, TUNING_CASES, geometry, poisonPool as poison } from './conv-grad-cases.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();
const poisonPool = (size: number) => poison(ctx.be, size);

describe('conv2dWeightGrad against the reference', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const g = geometry(c);
      const r = rng(sizeOf(c.x) * 3 + c.cout);
      const x = uniform(r, sizeOf(c.x));
      const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
      const dwSize = c.k * c.k * g.cin * g.cout;
      poisonPool(dwSize);
      const got = await ctx.be.download(K.conv2dWeightGrad(ctx.be, ctx.be.upload(x), ctx.be.upload(dy), g), dwSize);
      const ref = K.conv2dWeightGrad(ctx.cpu, Float64Array.from(x), Float64Array.from(dy), g);
      const mag = K.conv2dWeightGrad(ctx.cpu, Float64Array.from(abs(x)), Float64Array.from(abs(dy)), g);
      // Each dw sums n*oh*ow products: a sequential sum within a split, then the splits summed in order;
      // a split of L pixels out of S splits sees L + S <= n*oh*ow + 1 adds, plus the product's rounding.
      expectClose(got, ref, mag, g.n * g.oh * g.ow + 2, 'dw', 0);
    });
  }

  it('the table runs both one split and several, and the split count respects memory', () => {
    const splits = CASES.map((c) => weightGradSplits(ctx.gpu, geometry(c)));
    expect(splits.some((s) => s === 1)).toBe(true);
    expect(splits.some((s) => s > 4)).toBe(true);
    // layer4's 512 -> 512 3x3 at batch 8 of 512x512 images (16x16 there): 9.4 MB of partials per split.
    const big = conv2dGeometry([8, 16, 16, 512], [3, 3, 512, 512], 1, 1, false);
    const bytes = weightGradSplits(ctx.gpu, big) * 3 * 3 * 512 * 512 * 4;
    expect(bytes).toBeLessThanOrEqual(Math.min(64 * 2 ** 20, ctx.gpu.limits.maxStorageBufferBindingSize));
  });
});

/** conv2dWeightGrad with a given tile against the reference, on a poisoned pool (as the table's tests). */
async function checkWeightGradTile(c: Case, tile: WeightGradVariant): Promise<void> {
  const g = geometry(c);
  const r = rng(sizeOf(c.x) * 5 + c.cout);
  const x = uniform(r, sizeOf(c.x));
  const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
  const dwSize = c.k * c.k * g.cin * g.cout;
  poisonPool(dwSize);
  const got = await ctx.be.download(conv2dWeightGradTiled(ctx.gpu, ctx.be.upload(x), ctx.be.upload(dy), g, tile), dwSize);
  const ref = K.conv2dWeightGrad(ctx.cpu, Float64Array.from(x), Float64Array.from(dy), g);
  const mag = K.conv2dWeightGrad(ctx.cpu, Float64Array.from(abs(x)), Float64Array.from(abs(dy)), g);
  expectClose(got, ref, mag, g.n * g.oh * g.ow + 2, `dw, ${c.name}, tile ${JSON.stringify(tile)}`, 0);
}

describe('conv2dWeightGrad tiles against the reference', () => {
  it('every tuning candidate (tiles and split targets) on the stem, stride 2, downsample, narrow, head and odd-channel cases', async () => {
    let checked = 0;
    for (const c of TUNING_CASES) {
      const g = geometry(c);
      const tiles = weightGradCandidates(ctx.gpu, g);
      for (const tile of [...tiles, ...splitCandidates(ctx.gpu, g, tiles[0]!).slice(1)]) {
        await checkWeightGradTile(c, tile);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(TUNING_CASES.length * 4);
  });

  // The backend takes the shared (subgroup) tile where the device allows it: the plain tile, the
  // fallback elsewhere (and the head's), must stay correct on every case too.
  it(`the plain tile ${JSON.stringify(WEIGHT_GRAD_TILE)} on every case`, async () => {
    for (const c of CASES) await checkWeightGradTile(c, WEIGHT_GRAD_TILE);
  });

  // Workgroup-memory tiles (the discrete-GPU candidates) on every case they take, with one split and
  // with many (4x the default target), and odd tile shapes that leave partial row, column and pixel
  // stages (tm 3 with wy 4, nv 3, bk 5).
  const WORKGROUP: (WorkgroupTile & WeightGradVariant)[] = [
    ...WEIGHT_GRAD_WORKGROUP_TILES,
    { kind: 'workgroup', wx: 4, wy: 4, tm: 3, nv: 3, bk: 5 },
    { kind: 'workgroup', wx: 8, wy: 4, tm: 2, nv: 1, bk: 7, targetInvocations: 1 << 20 },
  ];
  for (const tile of WORKGROUP) {
    it(`workgroup tile ${JSON.stringify(tile)} on every case it takes`, async () => {
      const cases = CASES.filter((c) => c.x[3] % 4 === 0 && c.cout % 4 === 0);
      expect(cases.length).toBeGreaterThanOrEqual(8);
      for (const c of cases) await checkWeightGradTile(c, tile);
    });
  }

  it('a workgroup tile refuses odd channels and more workgroup memory than the device has', () => {
    const odd = geometry(CASES.find((c) => c.x[3] % 4 !== 0)!);
    expect(() => conv2dWeightGradTiled(ctx.gpu, ctx.be.alloc(1), ctx.be.alloc(1), odd, WORKGROUP[0]!)).toThrow(/multiples of 4/);
    const huge: WorkgroupTile = { kind: 'workgroup', wx: 16, wy: 16, tm: 16, nv: 1, bk: 64 };
    expect(workgroupTileBytes(huge)).toBeGreaterThan(ctx.gpu.limits.maxComputeWorkgroupStorageSize);
    expect(() => conv2dWeightGradTiled(ctx.gpu, ctx.be.alloc(1), ctx.be.alloc(1), geometry(CASES[2]!), huge)).toThrow(/bytes of workgroup memory/);
  });

  // Winograd tiles on every 3x3 stride-1 case with vec4 channels (odd sizes leave half tiles, batch 3,
  // narrow layers leave lanes idle), and one wide enough for the heuristic to take Winograd.
  const WINOGRAD: WinogradTile[] = [
    WINOGRAD_WEIGHT_GRAD_TILE,
    { kind: 'winograd', tm: 32, nv: 1, wg: 8 },
    { kind: 'winograd', tm: 8, nv: 2, wg: 8 },
    { kind: 'winograd', tm: 16, nv: 1, wg: 16 },
  ];
  const WIDE: Case = { name: 'layer1 3x3/1, 64 -> 64, 2x16x16 (128 tiles)', x: [2, 16, 16, 64], k: 3, cout: 64, stride: 1, pad: 1 };
  for (const tile of WINOGRAD) {
    it(`winograd tile ${JSON.stringify(tile)} on every 3x3 stride-1 vec4 case`, async ({ skip }) => {
      if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      const cases = [...CASES.filter((c) => c.k === 3 && c.stride === 1 && c.x[3] % 4 === 0 && c.cout % 4 === 0), WIDE];
      expect(cases.length).toBeGreaterThanOrEqual(5);
      for (const c of cases) await checkWeightGradTile(c, tile);
    });
  }

  it('the default takes Winograd where it pays (128 tiles, 64 channels in), never splits it, and refuses it off 3x3 stride 1', async ({ skip }) => {
    if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
    expect(defaultWeightGradTile(ctx.gpu, geometry(WIDE))).toStrictEqual(WINOGRAD_WEIGHT_GRAD_TILE);
    expect(weightGradSplits(ctx.gpu, geometry(WIDE), WINOGRAD_WEIGHT_GRAD_TILE)).toBe(1);
    expect(splitCandidates(ctx.gpu, geometry(WIDE), WINOGRAD_WEIGHT_GRAD_TILE)).toStrictEqual([WINOGRAD_WEIGHT_GRAD_TILE]);
    // 112 tiles, or 32 input channels: the direct shared tile.
    expect(defaultWeightGradTile(ctx.gpu, geometry({ ...WIDE, x: [2, 14, 16, 64] })).kind).toBe('shared');
    expect(defaultWeightGradTile(ctx.gpu, geometry({ ...WIDE, x: [2, 16, 16, 32] })).kind).toBe('shared');
    const strided = CASES.find((c) => c.stride === 2 && c.x[3] % 4 === 0 && c.cout % 4 === 0)!;
    expect(() => conv2dWeightGradTiled(ctx.gpu, ctx.be.alloc(1), ctx.be.alloc(1), geometry(strided), WINOGRAD_WEIGHT_GRAD_TILE)).toThrow(/3x3 stride-1/);
    expect(weightGradCandidates(ctx.gpu, geometry(strided)).some((t) => t.kind === 'winograd')).toBe(false);
  });

  // Shared tiles (subgroupShuffle of x), on odd channel counts (cout 1 and 7 leave lanes idle) too.
  const SHARED_TILES: SharedTile[] = [
    SHARED_WEIGHT_GRAD_TILE,
    { kind: 'shared', tm: 1, nv: 1, wg: 8 },
    { kind: 'shared', tm: 2, nv: 2, wg: 8 },
    { kind: 'shared', tm: 4, nv: 1, wg: 16 },
  ];
  for (const tile of SHARED_TILES) {
    it(`shared tile ${JSON.stringify(tile)} on every case`, async ({ skip }) => {
      if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      for (const c of CASES) await checkWeightGradTile(c, tile);
    });
  }
});
