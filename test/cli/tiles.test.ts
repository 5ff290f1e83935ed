// `gpuseg predict --tile`: an image larger than the tile comes back at its own size, with the map the
// library's tiled inference gives; a bad --tile is refused in one line naming the flag. `gpuseg eval
// --tile` records the tiled path in eval.json and, with one tile per image, measures what the resize path does.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { readRgb } from '../../src/data/index.js';
import { materialize } from '../../src/model/module.js';
import { saveSafetensors } from '../../src/model/safetensors.js';
import { exportStateDict } from '../../src/model/state.js';
import { Unet } from '../../src/model/unet.js';
import { loadModel } from '../../src/evaluate/model-io.js';
import { probabilityMap, tilingOf } from '../../src/evaluate/tiled-predict.js';
import { rng } from '../../src/util/random.js';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const WIDTH = 200;
const HEIGHT = 130;
const ctx = { dir: '', weights: '', image: '' };

beforeAll(async () => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'gpuseg-tiles-cli-'));
  // A bare weights file (the UNet's initialisation at seed 0) stands in for a trained run.
  const model = new Unet<Float64Array>();
  materialize(model, new CpuBackend(), rng(0));
  ctx.weights = join(ctx.dir, 'init.safetensors');
  await saveSafetensors(ctx.weights, await exportStateDict(model));
  const r = rng(1);
  const pixels = Buffer.from(Uint8Array.from({ length: WIDTH * HEIGHT * 3 }, () => Math.floor(r() * 256)));
  ctx.image = join(ctx.dir, 'wide.png');
  await sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).png().toFile(ctx.image);
});
afterAll(() => rmSync(ctx.dir, { recursive: true, force: true }));

async function pngSize(path: string) {
  const m = await sharp(path).metadata();
  return [m.width, m.height];
}

describe('gpuseg predict --tile', () => {
  it('writes 200x130 maps for a 200x130 image in 64x64 tiles, the library tiled inference to the byte', async () => {
    const out = join(ctx.dir, 'pred');
    const r = gpuseg(['predict', ctx.image, '--model', ctx.weights, '--out', out, '--tile', '64', '--tile-batch', '3', '--json']);
    expect(r.status, r.stderr).toBe(0);
    for (const suffix of ['prob', 'mask', 'overlay']) expect(await pngSize(join(out, `wide_${suffix}.png`))).toEqual([WIDTH, HEIGHT]);
    const written = await sharp(join(out, 'wide_prob.png')).toColourspace('b-w').raw().toBuffer();
    const loaded = await loadModel(ctx.weights);
    try {
      const tiling = tilingOf(ctx.weights, loaded.config, { tile: 64, tileBatch: 3 });
      const expected = await probabilityMap(loaded, ctx.image, await readRgb(ctx.image), tiling);
      expect(Buffer.compare(written, Buffer.from(expected))).toBe(0);
      expect(new Set(written).size, 'a map with some contrast').toBeGreaterThan(10);
    } finally {
      loaded.close();
    }
  });

  it('with --scale 0.5 runs the image at 100x65 and still writes 200x130 maps', async () => {
    const out = join(ctx.dir, 'half');
    const r = gpuseg(['predict', ctx.image, '--model', ctx.weights, '--out', out, '--tile', '64', '--scale', '0.5']);
    expect(r.status, r.stderr).toBe(0);
    expect(await pngSize(join(out, 'wide_prob.png'))).toEqual([WIDTH, HEIGHT]);
  });

  it('refuses a tile that is not a multiple of 32 in one line, exit 2', () => {
    const r = gpuseg(['predict', ctx.image, '--model', ctx.weights, '--out', join(ctx.dir, 'bad'), '--tile', '100']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("gpuseg: --tile must be a multiple of 32, got '100'");
  });
});

describe('gpuseg eval --tile', () => {
  const tiny = useTinyCategory('gpuseg-tiles-eval-');

  it('on 32x32 images in 32x32 tiles: the metrics of the resize path, and eval.json says tiles', () => {
    const run = join(tiny.dir, 'run');
    const trained = gpuseg(['train', '--data', tiny.category, '--out', run, '--size', '32', '--batch', '2', '--steps', '2', '--validate-every', '0', '--no-eval']);
    expect(trained.status, trained.stderr).toBe(0);
    const resized = gpuseg(['eval', '--model', run, '--json']);
    expect(resized.status, resized.stderr).toBe(0);
    const tiled = gpuseg(['eval', '--model', run, '--tile', '32', '--json']);
    expect(tiled.status, tiled.stderr).toBe(0);
    const [a, b] = [JSON.parse(resized.stdout), JSON.parse(tiled.stdout)];
    expect(a.inference).toEqual({ mode: 'resize', size: 32, resize: 'stretch' });
    expect(b.inference).toMatchObject({ mode: 'tiles', tile: 32, overlap: 8, scale: 1, batch: 4 });
    expect(JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')).inference.mode).toBe('tiles');
    expect(b.overall).toEqual(a.overall);
    expect(b.overall.images).toBeGreaterThan(0);
  });
});
