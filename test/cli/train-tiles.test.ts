// `gpuseg train --tile`: a run trained on 32x32 tiles of 96x64 images records size = tile, tile and
// scale in config.json, and predict then runs in tiles by itself, writing maps at the images' own size.
// Bad --tile/--scale/--size combinations exit 2 in one line. `--resize pad` is recorded, and predict
// crops the padding out of the model's map before bringing it back to the image's size.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { padBox, readImage, readRgb, resizeProbability, resizeProbabilityFrom } from '../../src/data/index.js';
import { loadModel } from '../../src/evaluate/model-io.js';
import { predictProbabilities } from '../../src/evaluate/inference.js';
import { cropMap, probabilityMap, tilingOf } from '../../src/evaluate/tiled-predict.js';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const WIDTH = 96;
const HEIGHT = 64;
const ctx = useTinyCategory('gpuseg-train-tiles-');
const SHORT = ['--batch', '2', '--steps', '2', '--validate-every', '0', '--no-eval', '--checkpoint-every', '2'];

/** Every PNG under `dir` stretched to WIDTH x HEIGHT (masks by nearest neighbour): a non-square category. */
async function widen(dir: string): Promise<void> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) await widen(path);
    else if (name.endsWith('.png')) {
      const kernel = path.includes('ground_truth') ? 'nearest' : 'linear';
      writeFileSync(path, await sharp(path).resize(WIDTH, HEIGHT, { fit: 'fill', kernel }).png().toBuffer());
    }
  }
}

const config = (run: string) => JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));

describe('gpuseg train --tile', () => {
  it('refuses bad tile settings in one line, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--tile', '33'], /--tile must be a multiple of 32, got '33'/],
      [['--tile', '32', '--scale', '0'], /--scale must be a positive number, got '0'/],
      [['--tile', '32', '--scale', '2'], /--scale must be a number above 0 and at most 1, got '2'/],
      [['--scale', '0.5'], /--scale applies to training on tiles: give --tile too/],
      [['--tile', '32', '--size', '64'], /--size 64 with --tile 32: on tiles the model trains at the tile's size/],
      [['--tile', '32', '--resize', 'pad'], /--resize pad squeezes whole images/],
    ];
    for (const [flags, message] of cases) {
      const r = gpuseg(['train', '--data', ctx.category, '--out', join(ctx.dir, 'bad'), ...SHORT, ...flags]);
      expect(r.status, `${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // A word not among the choices: commander's line, and the hint to --help under it.
    const r = gpuseg(['train', '--data', ctx.category, '--out', join(ctx.dir, 'bad'), ...SHORT, '--resize', 'crop']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/option '--resize <how>' argument 'crop' is invalid\. Allowed choices are stretch, pad/);
  });

  it('trains on tiles of 96x64 images, records size, tile and scale; predict runs in tiles at native size', async () => {
    await widen(ctx.category);
    const run = join(ctx.dir, 'tiled');
    let r = gpuseg(['train', '--data', ctx.category, '--out', run, ...SHORT, '--tile', '32', '--scale', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(config(run)).toMatchObject({ size: 32, tile: 32, scale: 1, resize: 'stretch' });
    // The threshold came from held-out normals at their own size (96 x 64 pixels each).
    const threshold = JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8'));
    expect(threshold.pixels % (WIDTH * HEIGHT)).toBe(0);
    const image = join(ctx.category, 'train', 'good', readdirSync(join(ctx.category, 'train', 'good')).sort()[0]!);
    const out = join(ctx.dir, 'pred-tiled');
    r = gpuseg(['predict', image, '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const prob = readdirSync(out).find((f) => f.endsWith('_prob.png'))!;
    const meta = await sharp(join(out, prob)).metadata();
    expect([meta.width, meta.height]).toEqual([WIDTH, HEIGHT]);
    const loaded = await loadModel(run);
    try {
      const tiling = tilingOf(run, loaded.config, {});
      expect(tiling).toMatchObject({ tile: 32, scale: 1 });
      const expected = await probabilityMap(loaded, image, await readRgb(image), tiling);
      const written = await sharp(join(out, prob)).toColourspace('b-w').raw().toBuffer();
      expect(Buffer.compare(written, Buffer.from(expected))).toBe(0);
    } finally {
      loaded.close();
    }
  });

  it('--resize pad is recorded; predict crops the bars out of the map before resizing it back', async () => {
    const run = join(ctx.dir, 'padded');
    let r = gpuseg(['train', '--data', ctx.category, '--out', run, ...SHORT, '--size', '32', '--resize', 'pad']);
    expect(r.status, r.stderr).toBe(0);
    expect(config(run)).toMatchObject({ size: 32, tile: null, scale: null, resize: 'pad' });
    // The threshold pooled only the image's part of each padded held-out normal: 96x64 fits 32x32 as 32x21.
    expect(padBox(WIDTH, HEIGHT, 32)).toEqual({ left: 0, top: 5, width: 32, height: 21 });
    const { pixels } = JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8'));
    expect(pixels % (32 * 21)).toBe(0);
    expect(pixels % (32 * 32)).not.toBe(0);
    const image = join(ctx.dir, 'wide.png');
    writeFileSync(image, await sharp(join(ctx.category, 'train', 'good', readdirSync(join(ctx.category, 'train', 'good')).sort()[0]!)).resize(64, 32, { fit: 'fill' }).png().toBuffer());
    const out = join(ctx.dir, 'pred-padded');
    r = gpuseg(['predict', image, '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const written = await sharp(join(out, 'wide_prob.png')).toColourspace('b-w').raw().toBuffer();
    const loaded = await loadModel(run);
    try {
      // By hand: padded to 32x32 (the image in rows 8 to 23), predicted, those rows cropped, resized to 64x32.
      expect(padBox(64, 32, 32)).toEqual({ left: 0, top: 8, width: 32, height: 16 });
      const [prob] = await predictProbabilities(loaded.model, loaded.device.backend, [await readImage(image, 32, 'pad')], 32);
      const cropped = await resizeProbabilityFrom(cropMap(prob!, 32, { left: 0, top: 8, width: 32, height: 16 }), 32, 16, 64, 32);
      expect(Buffer.compare(written, Buffer.from(cropped))).toBe(0);
      // Not the whole padded map stretched back (which the bars would darken or brighten).
      const uncropped = await resizeProbability(prob!, 32, 64, 32);
      expect(Buffer.compare(written, Buffer.from(uncropped))).not.toBe(0);
    } finally {
      loaded.close();
    }
    // eval measures the same way and says so in eval.json
    r = gpuseg(['eval', '--model', run, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).inference).toEqual({ mode: 'resize', size: 32, resize: 'pad' });
  });
});
