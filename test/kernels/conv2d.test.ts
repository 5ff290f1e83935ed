import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { type Conv2dGeometry, conv2dGeometry, sizeOf } from '../../src/core/geometry.js';
import { grid1d } from '../../src/gpu/gpu.js';
import { CONV2D_TILE, SHARED_CONV2D_TILE, conv2dCandidates, conv2dTiled, defaultConv2dTile } from '../../src/kernels/conv/forward.js';
import { WORKGROUP_TILES, workgroupTileBytes } from '../../src/kernels/conv/tiles.js';
import type { Conv2dVariant, RegisterTile, SharedTile, WinogradTile, WorkgroupTile } from '../../src/kernels/conv/variant.js';
import { WINOGRAD_TILE } from '../../src/kernels/conv/winograd.js';
import { canRunSharedTiles } from '../../src/gpu/subgroups.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

/** input NHWC, weight HWIO, stride, pad, bias. */
type Case = [string, number[], number[], number, number, boolean];

// Odd sizes, batch 1 and 3, channel counts off multiples of 4, and the ResNet-34 UNet layers at small
// spatial sizes (encoder without bias, decoder blocks without bias, the head with one).
const CASES: Case[] = [
  ['5->7 3x3 s1 p1 odd', [1, 7, 9, 5], [3, 3, 5, 7], 1, 1, true],
  ['5->7 3x3 s2 p1 batch 3', [3, 13, 11, 5], [3, 3, 5, 7], 2, 1, false],
  ['5->3 1x1 s1 p0', [3, 7, 9, 5], [1, 1, 5, 3], 1, 0, true],
  ['4->6 5x5 s3 p2', [1, 13, 11, 4], [5, 5, 4, 6], 3, 2, true],
  ['stem cin 3 7x7 s2 p3', [3, 13, 11, 3], [7, 7, 3, 64], 2, 3, false],
  ['stem cin 4 7x7 s2 p3', [1, 16, 16, 4], [7, 7, 4, 64], 2, 3, false],
  ['7x7 s2 p3 on a 1x1 image', [1, 1, 1, 4], [7, 7, 4, 8], 2, 3, true],
  ['layer1 64->64 3x3 s1 p1', [3, 7, 9, 64], [3, 3, 64, 64], 1, 1, false],
  ['layer2 64->128 3x3 s2 p1', [1, 13, 11, 64], [3, 3, 64, 128], 2, 1, false],
  ['layer2 downsample 64->128 1x1 s2', [3, 13, 11, 64], [1, 1, 64, 128], 2, 0, false],
  ['layer2 128->128 3x3 s1 p1', [1, 5, 5, 128], [3, 3, 128, 128], 1, 1, false],
  ['layer3 128->256 3x3 s2 p1', [1, 5, 5, 128], [3, 3, 128, 256], 2, 1, false],
  ['layer4 downsample 256->512 1x1 s2', [1, 3, 3, 256], [1, 1, 256, 512], 2, 0, false],
  ['decoder 768->256 3x3', [1, 2, 2, 768], [3, 3, 768, 256], 1, 1, false],
  ['decoder 384->128 3x3', [1, 4, 4, 384], [3, 3, 384, 128], 1, 1, false],
  ['decoder 192->64 3x3', [1, 6, 6, 192], [3, 3, 192, 64], 1, 1, false],
  ['decoder 128->32 3x3', [3, 7, 9, 128], [3, 3, 128, 32], 1, 1, false],
  ['decoder 32->16 3x3', [1, 13, 11, 32], [3, 3, 32, 16], 1, 1, false],
  ['decoder 16->16 3x3', [3, 13, 11, 16], [3, 3, 16, 16], 1, 1, false],
  ['head 16->1 3x3 bias', [3, 13, 11, 16], [3, 3, 16, 1], 1, 1, true],
];

interface Drawn {
  g: Conv2dGeometry;
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
}

function draw(xShape: number[], wShape: number[], stride: number, pad: number, hasBias: boolean, seed: number): Drawn {
  const g = conv2dGeometry(xShape, wShape, stride, pad, hasBias);
  const r = rng(seed);
  return { g, x: uniform(r, sizeOf(xShape)), w: uniform(r, sizeOf(wShape)), bias: hasBias ? uniform(r, g.cout) : null };
}

const f64 = (a: Float32Array | null) => (a ? Float64Array.from(a) : null);

/** The GPU forward (the backend's, or with a given register tile) against the reference. */
async function checkForward(d: Drawn, tile?: Conv2dVariant): Promise<void> {
  const { g, x, w, bias } = d;
  const be = ctx.be;
  const [xb, wb, bb] = [be.upload(x), be.upload(w), bias ? be.upload(bias) : null];
  const y = tile ? conv2dTiled(ctx.gpu, xb, wb, bb, g, tile) : K.conv2d(be, xb, wb, bb, g);
  const size = g.n * g.oh * g.ow * g.cout;
  const got = await be.download(y, size);
  const ref = K.conv2d(ctx.cpu, f64(x)!, f64(w)!, f64(bias), g);
  const mag = K.conv2d(ctx.cpu, f64(abs(x))!, f64(abs(w))!, bias ? f64(abs(bias)) : null, g);
  // A sequential sum of at most K = kh*kw*cin products onto the bias: K + 1 roundings of at most the
  // running sum of |terms|, each product one more (within the factor 2 of 2^-23 against 2^-24).
  expectClose(got, ref, mag, g.kh * g.kw * g.cin + 1, 'conv2d');
}

describe('conv2d forward against the reference', () => {
  CASES.forEach(([name, xs, ws, stride, pad, bias], k) => {
    it(`${name}: ${JSON.stringify(xs)} * ${JSON.stringify(ws)}`, async () => {
      const d = draw(xs, ws, stride, pad, bias, 100 + k);
      expect(d.g.n * d.g.oh * d.g.ow).toBeGreaterThan(0);
      await checkForward(d);
    });
  });

  // Other register tiles: the shipped one may change, each must stay correct (tails in pixels and
  // channels, a single column, scalar and vector paths).
  const TILES: RegisterTile[] = [
    { kind: 'register', tm: 1, nv: 1, wg: 64 },
    { kind: 'register', tm: 2, nv: 4, wg: 32 },
    { kind: 'register', tm: 3, nv: 3, wg: 16 },
  ];
  for (const tile of TILES) {
    it(`tile ${JSON.stringify(tile)} on 5->7, 12->20 and 4->1`, async () => {
      await checkForward(draw([3, 7, 9, 5], [3, 3, 5, 7], 1, 1, true, 1), tile);
      await checkForward(draw([1, 13, 11, 12], [3, 3, 12, 20], 2, 1, false, 2), tile);
      await checkForward(draw([1, 7, 9, 4], [3, 3, 4, 1], 1, 1, true, 3), tile);
    });
  }

  // Every variant the autotuner may pick for a layer (its choice then runs in training): the stem, a
  // stride-2 layer, a narrow decoder layer, the head, odd channels.
  it('every tuning candidate on the stem, stride 2, narrow, head and odd-channel cases', async () => {
    const picked = [5, 8, 9, 17, 19, 0].map((k) => [CASES[k]!, k] as const);
    let checked = 0;
    for (const [[, xs, ws, stride, pad, bias], k] of picked) {
      const d = draw(xs, ws, stride, pad, bias, 100 + k);
      for (const tile of conv2dCandidates(ctx.gpu, d.g)) {
        await checkForward(d, tile);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(picked.length * 4);
  });

  // The backend takes the shared (subgroup) tile where the device allows it: the plain tile, the fallback
  // elsewhere, must stay correct on every case too.
  it(`the plain tile ${JSON.stringify(CONV2D_TILE)} on every case`, async () => {
    for (const [k, [, xs, ws, stride, pad, bias]] of CASES.entries()) {
      await checkForward(draw(xs, ws, stride, pad, bias, 100 + k), CONV2D_TILE);
    }
  });

  // Shared tiles (subgroupShuffle of the input) on every case they take (cin and cout multiples of 4),
  // and on narrow layers whose lanes split into pixel groups (cout 4, 8, 12, 16: 8, 4, 2 and 2 groups).
  const SHARED_TILES: SharedTile[] = [
    SHARED_CONV2D_TILE,
    { kind: 'shared', tm: 8, nv: 1, wg: 8 },
    { kind: 'shared', tm: 16, nv: 2, wg: 8 },
    { kind: 'shared', tm: 8, nv: 1, wg: 16 },
  ];
  const NARROW: Case[] = [
    ['8->4 3x3 s1 p1 bias', [3, 7, 9, 8], [3, 3, 8, 4], 1, 1, true],
    ['12->8 3x3 s2 p1', [1, 13, 11, 12], [3, 3, 12, 8], 2, 1, false],
    ['4->12 3x3 s1 p1 bias', [3, 7, 9, 4], [3, 3, 4, 12], 1, 1, true],
    ['16->16 1x1 s1 p0', [1, 5, 3, 16], [1, 1, 16, 16], 1, 0, false],
  ];
  for (const tile of SHARED_TILES) {
    it(`shared tile ${JSON.stringify(tile)} on every vec4 case and narrow layers`, async ({ skip }) => {
      if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      const cases = [...CASES, ...NARROW].filter(([, xs, ws]) => xs[3]! % 4 === 0 && ws[3]! % 4 === 0);
      for (const [k, [, xs, ws, stride, pad, bias]] of cases.entries()) {
        await checkForward(draw(xs, ws, stride, pad, bias, 200 + k), tile);
      }
    });
  }

  // Workgroup-memory tiles (the discrete-GPU candidates): the tuner's own, and odd shapes of tile (TM 3,
  // NV 3, BK 8 and 12, a 4 x 8 workgroup) so that partial pixel, channel and k stages all occur; and
  // narrow layers (one vec4 column, fewer pixels than a tile).
  const WORKGROUP: WorkgroupTile[] = [
    ...WORKGROUP_TILES,
    { kind: 'workgroup', wx: 8, wy: 4, tm: 3, nv: 2, bk: 8 },
    { kind: 'workgroup', wx: 4, wy: 8, tm: 2, nv: 3, bk: 12 },
  ];
  for (const tile of WORKGROUP) {
    it(`workgroup tile ${JSON.stringify(tile)} on every vec4 case and narrow layers`, async () => {
      const cases = [...CASES, ...NARROW].filter(([, xs, ws]) => xs[3]! % 4 === 0 && ws[3]! % 4 === 0);
      expect(cases.length).toBeGreaterThan(10);
      for (const [k, [, xs, ws, stride, pad, bias]] of cases.entries()) {
        await checkForward(draw(xs, ws, stride, pad, bias, 300 + k), tile);
      }
    });
  }

  // Winograd F(2x2, 3x3) variants on every 3x3 stride-1 vec4 case (odd heights and widths leave half
  // tiles; batch 3; pads 0 and 2 besides 1) and narrow layers (pixel groups).
  const WINOGRAD: WinogradTile[] = [
    WINOGRAD_TILE,
    { kind: 'winograd', tm: 8, nv: 1, wg: 8 },
    { kind: 'winograd', tm: 16, nv: 2, wg: 8 },
    { kind: 'winograd', tm: 8, nv: 1, wg: 16 },
  ];
  const WINOGRAD_EXTRA: Case[] = [
    ['8->12 3x3 s1 p0 bias', [3, 7, 9, 8], [3, 3, 8, 12], 1, 0, true],
    ['4->8 3x3 s1 p2', [1, 6, 5, 4], [3, 3, 4, 8], 1, 2, false],
    ['8->4 3x3 s1 p1 on a 1x1 image', [2, 1, 1, 8], [3, 3, 8, 4], 1, 1, true],
  ];
  for (const tile of WINOGRAD) {
    it(`winograd tile ${JSON.stringify(tile)} on every 3x3 stride-1 vec4 case`, async ({ skip }) => {
      if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      const cases = [...CASES, ...NARROW, ...WINOGRAD_EXTRA].filter(([, xs, ws, stride]) => xs[3]! % 4 === 0 && ws[3]! % 4 === 0 && ws[0] === 3 && ws[1] === 3 && stride === 1);
      expect(cases.length).toBeGreaterThanOrEqual(12);
      for (const [k, [, xs, ws, stride, pad, bias]] of cases.entries()) {
        await checkForward(draw(xs, ws, stride, pad, bias, 400 + k), tile);
      }
    });
  }

  it('the default takes Winograd where it pays (64 channels out, 128 tiles) and matches the reference there', async ({ skip }) => {
    if (!canRunSharedTiles(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
    const d = draw([2, 16, 16, 64], [3, 3, 64, 64], 1, 1, true, 9);
    expect(defaultConv2dTile(ctx.gpu, d.g).kind).toBe('winograd');
    await checkForward(d);
    // 112 tiles (a tile row short), and 32 channels out: the direct shared tile.
    expect(defaultConv2dTile(ctx.gpu, draw([2, 14, 16, 64], [3, 3, 64, 64], 1, 1, false, 9).g).kind).toBe('shared');
    expect(defaultConv2dTile(ctx.gpu, draw([2, 16, 16, 64], [3, 3, 64, 32], 1, 1, false, 9).g).kind).toBe('shared');
  });

  it('a winograd tile refuses what is not 3x3 stride 1 with vec4 channels, and is a candidate only where it runs', () => {
    for (const [xs, ws, stride, pad, why] of [
      [[1, 7, 9, 8], [3, 3, 8, 8], 2, 1, /3x3 stride-1/],
      [[1, 7, 9, 8], [1, 1, 8, 8], 1, 0, /3x3 stride-1/],
      [[1, 7, 9, 5], [3, 3, 5, 8], 1, 1, /multiples of 4/],
    ] as const) {
      const d = draw([...xs], [...ws], stride, pad, false, 7);
      expect(() => conv2dTiled(ctx.gpu, ctx.be.upload(d.x), ctx.be.upload(d.w), null, d.g, WINOGRAD_TILE)).toThrow(why);
      expect(conv2dCandidates(ctx.gpu, d.g).some((t) => t.kind === 'winograd')).toBe(false);
    }
    const ok = draw([1, 7, 9, 8], [3, 3, 8, 8], 1, 1, false, 8);
    expect(conv2dCandidates(ctx.gpu, ok.g).some((t) => t.kind === 'winograd')).toBe(canRunSharedTiles(ctx.gpu));
  });

  it('a workgroup tile refuses a layer without vec4 channels, or more workgroup memory than the device has', () => {
    const d = draw([1, 7, 9, 5], [3, 3, 5, 8], 1, 1, false, 5);
    const [xb, wb] = [ctx.be.upload(d.x), ctx.be.upload(d.w)];
    expect(() => conv2dTiled(ctx.gpu, xb, wb, null, d.g, WORKGROUP_TILES[0]!)).toThrow(/multiples of 4/);
    const e = draw([1, 7, 9, 8], [3, 3, 8, 8], 1, 1, false, 6);
    const huge: WorkgroupTile = { kind: 'workgroup', wx: 16, wy: 16, tm: 64, nv: 1, bk: 64 };
    expect(workgroupTileBytes(huge)).toBeGreaterThan(ctx.gpu.limits.maxComputeWorkgroupStorageSize);
    expect(() => conv2dTiled(ctx.gpu, ctx.be.upload(e.x), ctx.be.upload(e.w), null, e.g, huge)).toThrow(/bytes of workgroup memory/);
  });

  it('a shared tile refuses a layer it cannot take (cin or cout not a multiple of 4)', () => {
    const d = draw([1, 7, 9, 5], [3, 3, 5, 8], 1, 1, false, 5);
    const [xb, wb] = [ctx.be.upload(d.x), ctx.be.upload(d.w)];
    expect(() => conv2dTiled(ctx.gpu, xb, wb, null, d.g, SHARED_CONV2D_TILE)).toThrow(/multiples of 4/);
  });

  it('a 1x1 conv over more pixel tiles than one grid dimension holds (2-D grid)', async () => {
    // With the shipped tile this needs more pixels than lavapipe can bind (128 MiB), so a small tile
    // brings the same grid arithmetic within reach: 16 pixels per workgroup.
    const tile: RegisterTile = { kind: 'register', tm: 2, nv: 1, wg: 8 };
    const MAX_GROUPS = 65535;
    const side = Math.ceil(Math.sqrt(MAX_GROUPS * tile.wg * tile.tm + tile.wg * tile.tm));
    const d = draw([1, side, side, 4], [1, 1, 4, 4], 1, 0, true, 4);
    expect(grid1d(Math.ceil((side * side) / tile.tm), tile.wg)[1]).toBeGreaterThan(1);
    await checkForward(d, tile);
  });
});

describe('conv2d bias gradient', () => {
  const SHAPES: [number, number, number, number][] = [
    [1, 7, 9, 7],
    [3, 13, 11, 1],
    [3, 13, 11, 64],
    [2, 40, 40, 5],
  ];
  for (const [n, oh, ow, cout] of SHAPES) {
    it(`GPU against the reference, dy [${n}, ${oh}, ${ow}, ${cout}]`, async () => {
      // Only oh, ow, n and cout matter to the bias gradient; a 1x1 conv gives that geometry.
      const g = conv2dGeometry([n, oh, ow, 2], [1, 1, 2, cout], 1, 0, true);
      const dy = uniform(rng(n * oh + cout), n * oh * ow * cout);
      const got = await ctx.be.download(K.conv2dBiasGrad(ctx.be, ctx.be.upload(dy), g), cout);
      const ref = K.conv2dBiasGrad(ctx.cpu, Float64Array.from(dy), g);
      const mag = K.conv2dBiasGrad(ctx.cpu, Float64Array.from(abs(dy)), g);
      // reduceMiddle: sequential chunks of at most 512 adds, then a sum of the chunks.
      const k = n * oh * ow;
      expectClose(got, ref, mag, Math.min(k, 512 + Math.ceil(k / 512)), 'dbias');
    });
  }

  it('finite differences through F.conv2d (bias only; x and w constant)', () => {
    const r = rng(9);
    const res = gradcheck((x, w, b) => F.conv2d(x!, w!, b!, 2, 1), [
      { values: uniform(r, 2 * 7 * 9 * 3), shape: [2, 7, 9, 3], grad: false },
      { values: uniform(r, 3 * 3 * 3 * 5), shape: [3, 3, 3, 5], grad: false },
      { values: uniform(r, 5), shape: [5] },
    ]);
    expect(res.ok, res.detail).toBe(true);
  });
});

describe('conv2d shape errors name both shapes', () => {
  const cpu = new CpuBackend();
  const t = (shape: number[]) => Tensor.from(cpu, new Float64Array(sizeOf(shape)), shape);
  it('channel mismatch', () => {
    expect(() => F.conv2d(t([1, 5, 5, 3]), t([3, 3, 4, 8]), null, 1, 1)).toThrow(/\[1, 5, 5, 3\].*\[3, 3, 4, 8\]/);
  });
  it('kernel larger than the padded input', () => {
    expect(() => F.conv2d(t([1, 2, 2, 3]), t([7, 7, 3, 8]), null, 1, 2)).toThrow(/\[1, 2, 2, 3\].*\[7, 7, 3, 8\]/);
  });
  it('bias of the wrong length', () => {
    expect(() => F.conv2d(t([1, 5, 5, 3]), t([3, 3, 3, 8]), t([7]), 1, 1)).toThrow(/\[7\].*\[3, 3, 3, 8\]/);
  });
});
