// The input gradient of conv2d (src/kernels/conv/input-grad.ts) against the CPU reference, its default
// and every tile, on the UNet's layer kinds.
import { describe, expect, it } from 'vitest';
import { conv2dGeometry, sizeOf } from '../../src/core/geometry.js';
import { grid1d } from '../../src/gpu/gpu.js';
import { canRunSharedTiles } from '../../src/gpu/subgroups.js';
import { INPUT_GRAD_TILE, SHARED_INPUT_GRAD_TILE, conv2dInputGradTiled, defaultInputGradTile, inputGradAsForward, inputGradCandidates } from '../../src/kernels/conv/input-grad.js';
import { WINOGRAD_TILE, fitWinogradTile } from '../../src/kernels/conv/winograd.js';
import { WORKGROUP_TILES } from '../../src/kernels/conv/tiles.js';
import type { Conv2dVariant, InputGradVariant, RegisterTile, SharedTile } from '../../src/kernels/conv/variant.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, useGpu } from '../helpers.js';
import { CASES, type Case, TUNING_CASES, geometry, poisonPool as poison } from './conv-grad-cases.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();
const poisonPool = (size: number) => poison(ctx.be, size);

describe('conv2dInputGrad against the reference', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const g = geometry(c);
      const r = rng(sizeOf(c.x) + c.cout);
      const w = uniform(r, c.k * c.k * g.cin * g.cout);
      const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
      const dxSize = sizeOf(c.x);
      poisonPool(dxSize);
      const got = await ctx.be.download(K.conv2dInputGrad(ctx.be, ctx.be.upload(dy), ctx.be.upload(w), g), dxSize);
      const ref = K.conv2dInputGrad(ctx.cpu, Float64Array.from(dy), Float64Array.from(w), g);
      const mag = K.conv2dInputGrad(ctx.cpu, Float64Array.from(abs(dy)), Float64Array.from(abs(w)), g);
      // Each dx is one sequential sum over the taps that reach it (at most kh*kw*cout products, each
      // rounded, then added): one rounding per product and per add bounds it.
      expectClose(got, ref, mag, 2 * c.k * c.k * g.cout, 'dx', 0);
    });
  }

  it('pixels that no output reads get exactly zero', async () => {
    // 3x3/2 unpadded on 8x9: row 7 and column 8 of x fall past the last window; 1x1/2: odd rows/columns.
    for (const c of CASES.filter((c) => c.pad === 0 && c.stride === 2)) {
      const g = geometry(c);
      const r = rng(9);
      const w = uniform(r, c.k * c.k * g.cin * g.cout);
      const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
      poisonPool(sizeOf(c.x));
      const got = await ctx.be.download(K.conv2dInputGrad(ctx.be, ctx.be.upload(dy), ctx.be.upload(w), g), sizeOf(c.x));
      const reached = K.conv2dInputGrad(ctx.cpu, new Float64Array(dy.length).fill(1), new Float64Array(w.length).fill(1), g);
      const unreached = [...reached.keys()].filter((i) => reached[i] === 0);
      expect(unreached.length, c.name).toBeGreaterThan(0);
      for (const i of unreached) expect(got[i], `${c.name}: element ${i}`).toBe(0);
    }
  });

  it('a dispatch of more than 65535 workgroups along x (2-D grid) reaches every pixel', async () => {
    // One pixel and one channel column per invocation in groups of 16, so the grid passes the limit at a
    // size the reference computes in about a second: the large-grid path is the same code at any tile.
    const tile: RegisterTile = { kind: 'register', tm: 1, nv: 1, wg: 16 };
    const g = conv2dGeometry([1, 2051, 2049, 4], [3, 3, 4, 4], 2, 1, false);
    const classPixels = Math.ceil(g.h / 2) * Math.ceil(g.w / 2);
    expect(grid1d(classPixels, tile.wg)[1]).toBeGreaterThan(1);
    const r = rng(11);
    const w = uniform(r, 3 * 3 * 4 * 4);
    const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
    const size = g.n * g.h * g.w * g.cin;
    poisonPool(size);
    const out = conv2dInputGradTiled(ctx.gpu, ctx.be.upload(dy), ctx.be.upload(w), g, tile);
    const got = await ctx.be.download(out, size);
    const ref = K.conv2dInputGrad(ctx.cpu, Float64Array.from(dy), Float64Array.from(w), g);
    // |dy|, |w| < 1, and stride 2 lets at most 2 x 2 taps x 4 channels reach a pixel: sum |terms| < 16.
    expectClose(got, ref, 16, 2 * 16, 'dx', 0);
  });
});

/** conv2dInputGrad with a given tile against the reference, on a poisoned pool (as the table's tests). */
async function checkInputGradTile(c: Case, tile: InputGradVariant): Promise<void> {
  const g = geometry(c);
  const r = rng(sizeOf(c.x) + c.cout);
  const w = uniform(r, c.k * c.k * g.cin * g.cout);
  const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
  const dxSize = sizeOf(c.x);
  poisonPool(dxSize);
  const got = await ctx.be.download(conv2dInputGradTiled(ctx.gpu, ctx.be.upload(dy), ctx.be.upload(w), g, tile), dxSize);
  const ref = K.conv2dInputGrad(ctx.cpu, Float64Array.from(dy), Float64Array.from(w), g);
  const mag = K.conv2dInputGrad(ctx.cpu, Float64Array.from(abs(dy)), Float64Array.from(abs(w)), g);
  expectClose(got, ref, mag, 2 * c.k * c.k * g.cout, `dx, ${c.name}, tile ${JSON.stringify(tile)}`, 0);
}


describe('conv2dInputGrad tiles against the reference', () => {
  it('every tuning candidate on the stem, stride 2, downsample, narrow, head and odd-channel cases', async () => {
    let checked = 0;
    for (const c of TUNING_CASES) {
      for (const tile of inputGradCandidates(ctx.gpu, geometry(c))) {
        await checkInputGradTile(c, tile);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(TUNING_CASES.length * 4);
  });

  // The backend takes the shared (subgroup) tile where the device allows it: the plain tile, the
  // fallback elsewhere, must stay correct on every case too.
  it(`the plain tile ${JSON.stringify(INPUT_GRAD_TILE)} on every case`, async () => {
    for (const c of CASES) await checkInputGradTile(c, INPUT_GRAD_TILE);
  });

  // Stride-1 layers as a forward convolution (flipped, transposed weights) on workgroup tiles, the
  // discrete-GPU candidates, on every case they take; one odd tile shape leaves partial stages.
  const FORWARD: Conv2dVariant[] = [...WORKGROUP_TILES.slice(0, 2), { kind: 'workgroup', wx: 4, wy: 8, tm: 2, nv: 3, bk: 12 }];
  const VIA_FORWARD = FORWARD.map((forward): InputGradVariant => ({ kind: 'viaForward', forward }));
  it('the stride-1 input gradient as a forward convolution on workgroup tiles, every case it takes', async () => {
    const cases = CASES.filter((c) => c.stride === 1 && c.x[3] % 4 === 0 && c.cout % 4 === 0);
    expect(cases.length).toBeGreaterThanOrEqual(4);
    for (const tile of VIA_FORWARD) for (const c of cases) await checkInputGradTile(c, tile);
    const strided = CASES.find((c) => c.stride === 2 && c.x[3] % 4 === 0)!;
    expect(() => conv2dInputGradTiled(ctx.gpu, ctx.be.alloc(1), ctx.be.alloc(1), geometry(strided), VIA_FORWARD[0]!)).toThrow(/needs stride 1/);
  });

  // Stride-1 layers as a Winograd forward convolution (the default on wide layers, winogradPays), on
  // every case it takes and on one wide enough for the heuristic to take it.
  it('the stride-1 input gradient as a Winograd forward convolution; the default where it pays', async ({ skip }) => {
    if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
    const wide: Case = { name: 'layer1 3x3/1, 64 -> 64, 2x16x16 (128 tiles)', x: [2, 16, 16, 64], k: 3, cout: 64, stride: 1, pad: 1 };
    const cases = [...CASES.filter((c) => c.stride === 1 && c.k === 3 && c.x[3] % 4 === 0 && c.cout % 4 === 0), wide];
    expect(cases.length).toBeGreaterThanOrEqual(5);
    for (const c of cases) await checkInputGradTile(c, { kind: 'viaForward', forward: fitWinogradTile(ctx.gpu, inputGradAsForward(geometry(c)), WINOGRAD_TILE) });
    const chosen = defaultInputGradTile(ctx.gpu, geometry(wide));
    expect(chosen.kind === 'viaForward' && chosen.forward.kind).toBe('winograd');
    expect(defaultInputGradTile(ctx.gpu, geometry(CASES[2]!)).kind).toBe('shared');
  });

  // Shared tiles (subgroupShuffle of dy), including narrow layers whose lanes split into pixel groups
  // (cin 3 to 16: 8, 4 and 2 groups).
  const SHARED_TILES: SharedTile[] = [
    SHARED_INPUT_GRAD_TILE,
    { kind: 'shared', tm: 8, nv: 1, wg: 8 },
    { kind: 'shared', tm: 16, nv: 2, wg: 8 },
    { kind: 'shared', tm: 8, nv: 1, wg: 16 },
  ];
  for (const tile of SHARED_TILES) {
    it(`shared tile ${JSON.stringify(tile)} on every case`, async ({ skip }) => {
      if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      for (const c of CASES) await checkInputGradTile(c, tile);
    });
  }
});
