// Tiled inference (src/evaluate/tiles.ts, tiled-predict.ts): the grid and window by hand, weights that sum
// to one at every pixel, tiled equal to whole-image inference for a fake model with a 3x3 receptive
// field, a defect across a tile border coming out whole, and the real UNet on lavapipe, tiled against
// whole, and in eval against the resize path where one tile covers each image.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesToRgb, connectedComponents, readCategory, synthesize } from '../../src/data/index.js';
import { materialize } from '../../src/model/module.js';
import { INPUT_CHANNELS, Unet } from '../../src/model/unet.js';
import { Tensor, noGrad, scope } from '../../src/autograd/index.js';
import { packInput } from '../../src/evaluate/pack.js';
import { evaluate } from '../../src/evaluate/evaluation.js';
import { predictLogits } from '../../src/evaluate/inference.js';
import { resizeMap, tilingOf } from '../../src/evaluate/tiled-predict.js';
import { type RgbBytes, type TileModel, cutTile, tileGrid, tileStarts, tileWindow, tiledLogits } from '../../src/evaluate/tiles.js';
import { rng } from '../../src/util/random.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

function randomImage(width: number, height: number, seed: number): RgbBytes {
  const r = rng(seed);
  return { data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(r() * 256)), width, height };
}

/** 3x3 mean of the red channel (zero outside), times 8, minus 3: translation-equivariant, radius 1. */
function boxFilter(red: (x: number, y: number) => number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const u = x + dx;
        const v = y + dy;
        if (u >= 0 && v >= 0 && u < width && v < height) s += red(u, v);
      }
      out[y * width + x] = (s / 9) * 8 - 3;
    }
  }
  return out;
}

const wholeImage = (im: RgbBytes) => boxFilter((x, y) => Math.fround(im.data[(y * im.width + x) * 3]! / 255), im.width, im.height);

/** The fake model on tiles, counting its calls and the largest batch it saw. */
function fakeModel(): TileModel & { calls: number; largest: number } {
  const f = (async (tiles: Float32Array[], n: number) => {
    f.calls++;
    f.largest = Math.max(f.largest, tiles.length);
    return tiles.map((t) => boxFilter((x, y) => t[(y * n + x) * 3]!, n, n));
  }) as TileModel & { calls: number; largest: number };
  f.calls = 0;
  f.largest = 0;
  return f;
}

function maxDiff(a: Float32Array, b: Float32Array, width: number, height: number, margin: number): number {
  let worst = 0;
  for (let y = margin; y < height - margin; y++) for (let x = margin; x < width - margin; x++) worst = Math.max(worst, Math.abs(a[y * width + x]! - b[y * width + x]!));
  return worst;
}

describe('the tile grid and its window', () => {
  it('starts at stride 3N/4, the last flush with the border; one tile for a side up to N', () => {
    expect(tileStarts(200, 64, 16)).toEqual([0, 48, 96, 136]);
    expect(tileStarts(130, 64, 16)).toEqual([0, 48, 66]);
    expect(tileStarts(112, 64, 16)).toEqual([0, 48]);
    expect(tileStarts(64, 64, 16)).toEqual([0]);
    expect(tileStarts(50, 64, 16)).toEqual([0]);
    expect(tileGrid(200, 130, 64).count).toBe(12);
  });

  it('ramps from 0 at an edge that meets a neighbour to 1, sin^2 over the overlap; flat at the image border', () => {
    const w = [...tileWindow(8, 3)];
    [0, 0.5, 1, 1, 1, 1, 0.5, 0].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 15));
    expect([...tileWindow(8, 3, { start: false, end: true })].map((v) => +v.toFixed(12))).toEqual([1, 1, 1, 1, 1, 1, 0.5, 0]);
    // Four-pixel ramps: sin^2(pi/6) = 1/4 and sin^2(pi/3) = 3/4, so neighbours' ramps sum to 1.
    expect([...tileWindow(8, 4)].map((v) => +v.toFixed(12))).toEqual([0, 0.25, 0.75, 1, 1, 0.75, 0.25, 0]);
  });

  it.each([
    [200, 130, 64, 16],
    [64, 64, 64, 16],
    [65, 97, 64, 16],
    [50, 30, 64, 16],
    [20, 300, 32, 8],
    [1000, 33, 96, 48],
    [129, 129, 64, 32],
    [7, 200, 32, 2],
  ])('the weights of all tiles sum to 1 at every pixel of a %ix%i image, tile %i, overlap %i', (width, height, tile, overlap) => {
    const grid = tileGrid(width, height, tile, overlap);
    const sum = new Float64Array(width * height);
    let outside = 0;
    grid.y.starts.forEach((y0, iy) =>
      grid.x.starts.forEach((x0, ix) => {
        for (let ty = 0; ty < tile; ty++) for (let tx = 0; tx < tile; tx++) {
          const w = grid.x.weights[ix]![tx]! * grid.y.weights[iy]![ty]!;
          if (y0 + ty < height && x0 + tx < width) sum[(y0 + ty) * width + x0 + tx]! += w;
          else outside += w;
        }
      }),
    );
    expect(outside, 'weight outside the image').toBe(0);
    let worst = 0;
    for (const s of sum) worst = Math.max(worst, Math.abs(s - 1));
    expect(worst).toBeLessThan(1e-6);
    for (const starts of [grid.x.starts, grid.y.starts]) {
      for (let i = 1; i < starts.length; i++) expect(starts[i - 1]! + tile - starts[i]!, 'overlap').toBeGreaterThanOrEqual(overlap);
    }
  });

  it('pads a tile past the image by reflection (the edge pixel not repeated)', () => {
    // A 3x2 image whose red channel is 10 * x + y.
    const im: RgbBytes = { data: new Uint8Array(3 * 2 * 3), width: 3, height: 2 };
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) im.data[(y * 3 + x) * 3] = 10 * x + y;
    const t = cutTile(im, 0, 0, 5);
    const red = Array.from({ length: 5 }, (_, y) => Array.from({ length: 5 }, (_, x) => Math.round(t[(y * 5 + x) * 3]! * 255)));
    expect(red).toEqual([
      [0, 10, 20, 10, 0],
      [1, 11, 21, 11, 1],
      [0, 10, 20, 10, 0],
      [1, 11, 21, 11, 1],
      [0, 10, 20, 10, 0],
    ]);
  });
});

describe('tiled against whole-image inference (fake model: 3x3 box filter of red)', () => {
  it('equal at every pixel, tile borders included, for any batch of tiles', async () => {
    const im = randomImage(200, 130, 1);
    const whole = wholeImage(im);
    for (const batch of [1, 3, 4, 12]) {
      const model = fakeModel();
      const tiled = await tiledLogits(im, model, { tile: 64, batch });
      expect(maxDiff(tiled, whole, 200, 130, 0)).toBeLessThan(1e-5);
      expect(model.calls).toBe(Math.ceil(12 / batch));
      expect(model.largest).toBe(Math.min(batch, 12));
    }
    // The blend is what makes it exact: a tile's own map is wrong at its edges inside the image.
    const second = (await fakeModel()([cutTile(im, 48, 0, 64)], 64))[0]!;
    expect(Math.abs(second[10 * 64]! - whole[10 * 200 + 48]!)).toBeGreaterThan(1e-3);
  });

  it('equal away from the border for an image smaller than a tile, and cropped back to its size', async () => {
    const im = randomImage(50, 30, 2);
    const tiled = await tiledLogits(im, fakeModel(), { tile: 64 });
    expect(tiled.length).toBe(50 * 30);
    expect(maxDiff(tiled, wholeImage(im), 50, 30, 1)).toBeLessThan(1e-5);
  });

  it('a bright bar across tile borders comes out as one region covering the bar', async () => {
    const width = 200;
    const height = 130;
    const im: RgbBytes = { data: new Uint8Array(width * height * 3), width, height };
    // Columns 30..99 cross the tile borders at 48, 63 and 96; rows 40..55 those at 48 and 63.
    const bar = { x0: 30, x1: 99, y0: 40, y1: 55 };
    for (let y = bar.y0; y <= bar.y1; y++) for (let x = bar.x0; x <= bar.x1; x++) im.data[(y * width + x) * 3] = 255;
    const logits = await tiledLogits(im, fakeModel(), { tile: 64 });
    const mask = Uint8Array.from(logits, (l) => (l > 0 ? 1 : 0));
    const { count, boxes, labels } = connectedComponents(mask, width, height);
    expect(count).toBe(1);
    // Logit > 0 where more than 3 of the 9 pixels around are bright: every bar pixel (a corner sees 4),
    // no pixel outside (an edge neighbour sees 3).
    expect(boxes[0]).toEqual({ x0: bar.x0, y0: bar.y0, x1: bar.x1, y1: bar.y1 });
    for (let y = bar.y0; y <= bar.y1; y++) for (let x = bar.x0; x <= bar.x1; x++) expect(labels[y * width + x]).toBe(1);
  });
});

describe('the choice of inference and the resize of maps', () => {
  it('takes --tile over the config, the scale from the config, and refuses a bad one naming its source', () => {
    expect(tilingOf('run', null, {})).toBeNull();
    expect(tilingOf('run', { tile: 256, scale: 0.5 }, {})).toEqual({ tile: 256, overlap: 64, scale: 0.5, batch: 4 });
    expect(tilingOf('run', { tile: 256 }, { tile: 128, tileBatch: 2 })).toEqual({ tile: 128, overlap: 32, scale: 1, batch: 2 });
    expect(() => tilingOf('run', { tile: 100 }, {})).toThrow("run/config.json: 'tile' must be a multiple of 32, got 100");
    expect(() => tilingOf('run', { tile: 64, scale: -1 }, {})).toThrow("run/config.json: 'scale' must be a positive number, got -1");
    expect(() => tilingOf('run', null, { scale: 0.5 })).toThrow('--scale applies to tiled inference: give --tile too');
  });

  it('resizes a map bilinearly with pixel centres aligned and edges clamped', () => {
    expect([...resizeMap(Float32Array.of(0, 1), 2, 1, 4, 1)]).toEqual([0, 0.25, 0.75, 1]);
    expect([...resizeMap(Float32Array.of(0, 4, 8, 12), 2, 2, 1, 1)]).toEqual([6]);
    const same = Float32Array.of(1, 2);
    expect(resizeMap(same, 2, 1, 2, 1)).toBe(same);
  });
});

/**
 * Running statistics from training-mode passes over random 64x64 images (momentum 0.1, so 30 passes leave
 * 4% of the initial 0 and 1): with them the network's activations are normalised as a trained one's are,
 * instead of growing layer after layer until the deepest (whole-image) features dominate every pixel.
 */
async function calibrate(model: Unet): Promise<void> {
  model.setTraining(true);
  const r = rng(9);
  for (let pass = 0; pass < 30; pass++) {
    const input = new Float32Array(2 * 64 * 64 * INPUT_CHANNELS);
    for (let i = 0; i < 2; i++) packInput(input, i, Float32Array.from({ length: 64 * 64 * 3 }, () => r()), 64);
    const { pending } = noGrad(() => scope(() => ({ pending: model.forward(Tensor.from(ctx.be, input, [2, 64, 64, INPUT_CHANNELS])).toArray() })));
    await pending;
  }
}

describe('the real UNet on the GPU', () => {
  const model = new Unet();
  let storage: ReturnType<typeof materialize> | null = null;
  const setup = async () => {
    if (storage) return;
    storage = materialize(model, ctx.be, rng(0));
    await calibrate(model);
    model.setTraining(false);
  };
  afterAll(() => {
    storage?.params.destroy();
    storage?.buffers.destroy();
  });
  const onGpu: TileModel = (tiles, n) => predictLogits(model, ctx.be, tiles, n, tiles.length);

  it('one tile covering the image is the whole-image prediction, to the bit', async () => {
    await setup();
    const im = randomImage(32, 32, 3);
    const [whole] = await predictLogits(model, ctx.be, [bytesToRgb(im.data)], 32);
    expect([...(await tiledLogits(im, onGpu, { tile: 32 }))]).toEqual([...whole!]);
  });

  it('96x96 in 64x64 tiles: each tile\'s own prediction where it alone weighs, and near the whole-image one elsewhere', async () => {
    await setup();
    const S = 96;
    const im = randomImage(S, S, 4);
    const [whole] = await predictLogits(model, ctx.be, [bytesToRgb(im.data)], S);
    const tiled = await tiledLogits(im, onGpu, { tile: 64 });
    // Tiles start at 0 and 32 on each axis, ramps over [32, 48) and [48, 64): tile (0, 0) alone covers
    // [0, 32)^2, tile (1, 1) alone [64, 96)^2.
    const [first, last] = await onGpu([cutTile(im, 0, 0, 64), cutTile(im, 32, 32, 64)], 64);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) expect(tiled[y * S + x]).toBe(first![y * 64 + x]);
    for (let y = 64; y < S; y++) for (let x = 64; x < S; x++) expect(tiled[y * S + x]).toBe(last![(y - 32) * 64 + x - 32]);
    // The network's deepest features see the whole tile (2x2 cells of 32 pixels in a tile, 3x3 in the
    // image), so tiled differs from whole everywhere: measured, and compared with the difference
    // between the predictions of two unrelated images, which share nothing but the network.
    const [other] = await predictLogits(model, ctx.be, [bytesToRgb(randomImage(S, S, 5).data)], S);
    const rms = (a: Float32Array, b: Float32Array, margin: number) => {
      let sum = 0;
      let n = 0;
      for (let y = margin; y < S - margin; y++) for (let x = margin; x < S - margin; x++, n++) sum += (a[y * S + x]! - b[y * S + x]!) ** 2;
      return Math.sqrt(sum / n);
    };
    const interior = { rms: rms(tiled, whole!, 8), max: maxDiff(tiled, whole!, S, S, 8), unrelated: rms(other!, whole!, 8) };
    console.log(`tiles: random UNet (calibrated batch norm), 96x96 in 64x64 tiles against whole, 8 px in from the border: rms |difference| ${interior.rms.toFixed(3)}, max ${interior.max.toFixed(3)}; two unrelated images: rms ${interior.unrelated.toFixed(3)}`);
    expect(interior.rms).toBeGreaterThan(0);
    expect(interior.rms).toBeLessThan(0.75 * interior.unrelated);
  });
});

describe('eval in tiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-tiles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('on 32x32 images in 32x32 tiles measures exactly what the resize path at 32 does, and says which it ran', async () => {
    const summary = await synthesize(join(dir, 'data'), { size: 32, categories: ['fabric'], trainGood: 2, testGood: 2, perType: 2 });
    const category = await readCategory(summary.categories[0]!.dir);
    const items = [...category.defects.map((d) => ({ image: d.image, mask: d.mask, type: d.type })), ...category.testGood.map((image) => ({ image, mask: null, type: 'good' }))];
    const model = new Unet();
    const storage = materialize(model, ctx.be, rng(5));
    try {
      const resized = await evaluate(model, ctx.be, items, 32, undefined, 4);
      const tiled = await evaluate(model, ctx.be, items, 32, undefined, 4, undefined, { tile: 32, overlap: 8, scale: 1, batch: 4 });
      expect(resized.inference).toEqual({ mode: 'resize', size: 32, resize: 'stretch' });
      expect(tiled.inference).toMatchObject({ mode: 'tiles', tile: 32, overlap: 8, scale: 1, batch: 4 });
      expect(tiled.overall).toEqual(resized.overall);
      expect(tiled.perType).toEqual(resized.perType);
      expect(tiled.overall.defectPixels).toBeGreaterThan(0);
      expect(tiled.maps.map((m) => [m.width, m.height])).toEqual(items.map(() => [32, 32]));
    } finally {
      storage.params.destroy();
      storage.buffers.destroy();
    }
  });
});
