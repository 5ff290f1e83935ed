import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import { type Conv2dGeometry, conv2dGeometry, sizeOf } from '../../src/core/geometry.js';
import { grid1d } from '../../src/gpu/gpu.js';
import { INPUT_GRAD_TILE, type InputGradTile, type InputGradVariant, SHARED_INPUT_GRAD_TILE, conv2dInputGradTiled } from '../../src/kernels/conv2dInputGrad.js';
import { SHARED_WEIGHT_GRAD_TILE, WEIGHT_GRAD_TILE, type WeightGradTile, type WeightGradVariant, type WeightGradWorkgroupTile, weightGradWorkgroupBytes, conv2dWeightGradTiled, weightGradSplits } from '../../src/kernels/conv2dWeightGrad.js';
import { canShareA } from '../../src/gpu/subgroups.js';
import { WEIGHT_GRAD_WORKGROUP_TILES, WORKGROUP_TILES, inputGradCandidates, splitCandidates, weightGradCandidates } from '../../src/kernels/convTuning.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, useGpu } from '../helpers.js';

const ctx = useGpu();

interface Case {
  name: string;
  /** NHWC input shape. */
  x: [number, number, number, number];
  k: number;
  cout: number;
  stride: number;
  pad: number;
  bias?: boolean;
}

// The ResNet-34 UNet's layer kinds at a 32x32 input (stem, encoder, downsample, decoder, head), batch 1
// and 3, odd sizes (stride 2 on odd sizes leaves input rows no output reads) and odd channel counts.
const CASES: Case[] = [
  { name: 'stem 7x7/2, 3 -> 64', x: [1, 32, 32, 3], k: 7, cout: 64, stride: 2, pad: 3 },
  { name: 'stem 7x7/2, 4 -> 64, odd size', x: [3, 13, 11, 4], k: 7, cout: 64, stride: 2, pad: 3 },
  { name: 'layer1 3x3/1, 64 -> 64', x: [3, 8, 8, 64], k: 3, cout: 64, stride: 1, pad: 1 },
  { name: 'layer2 3x3/1, 128 -> 128', x: [1, 4, 4, 128], k: 3, cout: 128, stride: 1, pad: 1 },
  { name: 'layer2 3x3/2, 64 -> 128', x: [3, 8, 8, 64], k: 3, cout: 128, stride: 2, pad: 1 },
  { name: 'layer2 downsample 1x1/2, 64 -> 128', x: [3, 8, 8, 64], k: 1, cout: 128, stride: 2, pad: 0 },
  { name: 'decoder 3x3/1, 96 -> 32', x: [1, 16, 16, 96], k: 3, cout: 32, stride: 1, pad: 1 },
  { name: 'decoder 3x3/1, 48 -> 16', x: [3, 16, 16, 48], k: 3, cout: 16, stride: 1, pad: 1 },
  { name: 'decoder 3x3/1, 16 -> 16', x: [1, 32, 32, 16], k: 3, cout: 16, stride: 1, pad: 1 },
  { name: 'head 3x3/1 with bias, 16 -> 1', x: [3, 32, 32, 16], k: 3, cout: 1, stride: 1, pad: 1, bias: true },
  { name: '3x3/1, 5 -> 7, 13x11', x: [3, 13, 11, 5], k: 3, cout: 7, stride: 1, pad: 1 },
  { name: '3x3/2, 5 -> 7, 7x9', x: [1, 7, 9, 5], k: 3, cout: 7, stride: 2, pad: 1 },
  { name: '3x3/2, 8 -> 12, 13x11', x: [3, 13, 11, 8], k: 3, cout: 12, stride: 2, pad: 1 },
  { name: '3x3/2 unpadded, 6 -> 4, 8x9 (last row and column unread)', x: [1, 8, 9, 6], k: 3, cout: 4, stride: 2, pad: 0 },
  { name: '1x1/2, 12 -> 8, 7x9 (odd rows and columns unread)', x: [3, 7, 9, 12], k: 1, cout: 8, stride: 2, pad: 0 },
];

function geometry(c: Case): Conv2dGeometry {
  return conv2dGeometry(c.x, [c.k, c.k, c.x[3], c.cout], c.stride, c.pad, !!c.bias);
}

/** Fills a pooled buffer of `size` floats with NaN and frees it: the next kernel output of that size class
 * reuses it, so an element the kernel fails to write shows up as NaN. */
function poisonPool(size: number): void {
  ctx.be.free(ctx.be.fill(Number.NaN, size));
}

describe('conv2dInputGrad against the reference', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const g = geometry(c);
      const r = rng(sizeOf(c.x) + c.cout);
      const w = uniform(r, c.k * c.k * g.cin * g.cout);
      const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
      const dxSize = sizeOf(c.x);
      poisonPool(dxSize);
      const got = await ctx.be.download(ctx.be.conv2dInputGrad(ctx.be.upload(dy), ctx.be.upload(w), g), dxSize);
      const ref = ctx.cpu.conv2dInputGrad(Float64Array.from(dy), Float64Array.from(w), g);
      const mag = ctx.cpu.conv2dInputGrad(Float64Array.from(abs(dy)), Float64Array.from(abs(w)), g);
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
      const got = await ctx.be.download(ctx.be.conv2dInputGrad(ctx.be.upload(dy), ctx.be.upload(w), g), sizeOf(c.x));
      const reached = ctx.cpu.conv2dInputGrad(new Float64Array(dy.length).fill(1), new Float64Array(w.length).fill(1), g);
      const unreached = [...reached.keys()].filter((i) => reached[i] === 0);
      expect(unreached.length, c.name).toBeGreaterThan(0);
      for (const i of unreached) expect(got[i], `${c.name}: element ${i}`).toBe(0);
    }
  });

  it('a dispatch of more than 65535 workgroups along x (2-D grid) reaches every pixel', async () => {
    // One pixel and one channel column per invocation in groups of 16, so the grid passes the limit at a
    // size the reference computes in about a second: the large-grid path is the same code at any tile.
    const tile = { tm: 1, nv: 1, wg: 16 };
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
    const ref = ctx.cpu.conv2dInputGrad(Float64Array.from(dy), Float64Array.from(w), g);
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
  const ref = ctx.cpu.conv2dInputGrad(Float64Array.from(dy), Float64Array.from(w), g);
  const mag = ctx.cpu.conv2dInputGrad(Float64Array.from(abs(dy)), Float64Array.from(abs(w)), g);
  expectClose(got, ref, mag, 2 * c.k * c.k * g.cout, `dx, ${c.name}, tile ${JSON.stringify(tile)}`, 0);
}

/** Cases the tuning candidates are checked on: stem, stride 2, downsample, narrow decoder, head, odd channels. */
const TUNING_CASES = [1, 4, 5, 7, 9, 12].map((k) => CASES[k]!);

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
  const VIA_FORWARD: InputGradVariant[] = [...WORKGROUP_TILES.slice(0, 2), { workgroup: true, wx: 4, wy: 8, tm: 2, nv: 3, bk: 12 } as const]
    .map((viaForward) => ({ viaForward }));
  it('the stride-1 input gradient as a forward convolution on workgroup tiles, every case it takes', async () => {
    const cases = CASES.filter((c) => c.stride === 1 && c.x[3] % 4 === 0 && c.cout % 4 === 0);
    expect(cases.length).toBeGreaterThanOrEqual(4);
    for (const tile of VIA_FORWARD) for (const c of cases) await checkInputGradTile(c, tile);
    const strided = CASES.find((c) => c.stride === 2 && c.x[3] % 4 === 0)!;
    expect(() => conv2dInputGradTiled(ctx.gpu, ctx.be.alloc(1), ctx.be.alloc(1), geometry(strided), VIA_FORWARD[0]!)).toThrow(/needs stride 1/);
  });

  // Shared tiles (subgroupShuffle of dy), including narrow layers whose lanes split into pixel groups
  // (cin 3 to 16: 8, 4 and 2 groups).
  const SHARED_TILES: InputGradTile[] = [
    SHARED_INPUT_GRAD_TILE,
    { tm: 8, nv: 1, wg: 8, shareDy: true },
    { tm: 16, nv: 2, wg: 8, shareDy: true },
    { tm: 8, nv: 1, wg: 16, shareDy: true },
  ];
  for (const tile of SHARED_TILES) {
    it(`shared tile ${JSON.stringify(tile)} on every case`, async ({ skip }) => {
      if (!canShareA(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      for (const c of CASES) await checkInputGradTile(c, tile);
    });
  }
});

describe('conv2dWeightGrad against the reference', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const g = geometry(c);
      const r = rng(sizeOf(c.x) * 3 + c.cout);
      const x = uniform(r, sizeOf(c.x));
      const dy = uniform(r, g.n * g.oh * g.ow * g.cout);
      const dwSize = c.k * c.k * g.cin * g.cout;
      poisonPool(dwSize);
      const got = await ctx.be.download(ctx.be.conv2dWeightGrad(ctx.be.upload(x), ctx.be.upload(dy), g), dwSize);
      const ref = ctx.cpu.conv2dWeightGrad(Float64Array.from(x), Float64Array.from(dy), g);
      const mag = ctx.cpu.conv2dWeightGrad(Float64Array.from(abs(x)), Float64Array.from(abs(dy)), g);
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
  const ref = ctx.cpu.conv2dWeightGrad(Float64Array.from(x), Float64Array.from(dy), g);
  const mag = ctx.cpu.conv2dWeightGrad(Float64Array.from(abs(x)), Float64Array.from(abs(dy)), g);
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
  // stages (TK 3 with WY 4, NV 3, BP 5).
  const WORKGROUP: WeightGradWorkgroupTile[] = [
    ...WEIGHT_GRAD_WORKGROUP_TILES,
    { workgroup: true, wx: 4, wy: 4, tk: 3, nv: 3, bp: 5 },
    { workgroup: true, wx: 8, wy: 4, tk: 2, nv: 1, bp: 7, targetInvocations: 1 << 20 },
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
    const huge: WeightGradWorkgroupTile = { workgroup: true, wx: 16, wy: 16, tk: 16, nv: 1, bp: 64 };
    expect(weightGradWorkgroupBytes(huge)).toBeGreaterThan(ctx.gpu.limits.maxComputeWorkgroupStorageSize);
    expect(() => conv2dWeightGradTiled(ctx.gpu, ctx.be.alloc(1), ctx.be.alloc(1), geometry(CASES[2]!), huge)).toThrow(/bytes of workgroup memory/);
  });

  // Shared tiles (subgroupShuffle of x), on odd channel counts (cout 1 and 7 leave lanes idle) too.
  const SHARED_TILES: WeightGradTile[] = [
    SHARED_WEIGHT_GRAD_TILE,
    { tv: 1, nv: 1, wg: 8, shareX: true },
    { tv: 2, nv: 2, wg: 8, shareX: true },
    { tv: 4, nv: 1, wg: 16, shareX: true },
  ];
  for (const tile of SHARED_TILES) {
    it(`shared tile ${JSON.stringify(tile)} on every case`, async ({ skip }) => {
      if (!canShareA(ctx.gpu)) skip('no subgroups of at least 8 lanes on this device');
      for (const c of CASES) await checkWeightGradTile(c, tile);
    });
  }
});

describe('conv2d gradients (float64 finite differences on the reference)', () => {
  const cases: [string, number[], number[], number, number, boolean][] = [
    ['3x3/1 with bias, 5x7', [2, 5, 7, 3], [3, 3, 3, 4], 1, 1, true],
    ['3x3/1 unpadded, 5x7', [1, 5, 7, 2], [3, 3, 2, 3], 1, 0, false],
    ['3x3/2 with bias, 7x9', [2, 7, 9, 3], [3, 3, 3, 5], 2, 1, true],
    ['3x3/2 unpadded, 8x9', [1, 8, 9, 2], [3, 3, 2, 3], 2, 0, false],
    ['7x7/2 pad 3, 9x7', [1, 9, 7, 2], [7, 7, 2, 3], 2, 3, false],
    ['1x1/2 with bias, 7x9', [2, 7, 9, 3], [1, 1, 3, 4], 2, 0, true],
  ];
  for (const [name, xs, ws, stride, pad, hasBias] of cases) {
    it(name, () => {
      const r = rng(xs.length + ws[0]! * 7 + stride);
      const inputs = [
        { values: uniform(r, sizeOf(xs)), shape: xs },
        { values: uniform(r, sizeOf(ws)), shape: ws },
        ...(hasBias ? [{ values: uniform(r, ws[3]!), shape: [ws[3]!] }] : []),
      ];
      const res = gradcheck((x, w, b) => F.conv2d(x!, w!, b ?? null, stride, pad), inputs);
      expect(res.ok, res.detail).toBe(true);
      expect(res.checked).toBeGreaterThan(64);
    });
  }
});

describe('GPU backward against the reference backward', () => {
  it.each([
    ['3x3/2 with bias, 5 -> 7, 7x9', [3, 7, 9, 5], [3, 3, 5, 7], 2, 1],
    ['3x3/1 with bias, 16 -> 16, 13x11', [1, 13, 11, 16], [3, 3, 16, 16], 1, 1],
  ] as const)('%s: dx, dw and dbias through the tape', async (_name, xs, ws, stride, pad) => {
    const r = rng(77);
    const x = uniform(r, sizeOf(xs));
    const w = uniform(r, sizeOf(ws));
    const b = uniform(r, ws[3]);
    const g = conv2dGeometry(xs, ws, stride, pad, true);
    const ys = [g.n, g.oh, g.ow, g.cout];
    const dy = uniform(r, sizeOf(ys));
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const tx = Tensor.from(backend, x, xs, true);
        const tw = Tensor.from(backend, w, ws, true);
        const tb = Tensor.from(backend, b, [ws[3]], true);
        F.conv2d(tx, tw, tb, stride, pad).backward(Tensor.from(backend, dy, ys));
        return [tx.grad!, tw.grad!, tb.grad!];
      });
    const [gx, gw, gb] = await run(ctx.be);
    const [rx, rw, rb] = await run(ctx.cpu);
    const f64 = (a: Float32Array) => Float64Array.from(abs(a));
    const pixels = g.n * g.oh * g.ow;
    // Same bounds as the kernel tests: taps*cout products per dx, n*oh*ow per dw and dbias.
    expectClose(gx!, rx!, ctx.cpu.conv2dInputGrad(f64(dy), f64(w), g), 2 * ws[0] * ws[1] * ws[3], 'dx', 0);
    expectClose(gw!, rw!, ctx.cpu.conv2dWeightGrad(f64(x), f64(dy), g), pixels + 2, 'dw', 0);
    expectClose(gb!, rb!, ctx.cpu.conv2dBiasGrad(f64(dy), g), pixels + 2, 'dbias', 0);
  });
});
