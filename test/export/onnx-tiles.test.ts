// The exported ONNX model's documented use on images larger than its input: examples/onnx-tiled.mjs
// (ONNX Runtime and sharp only) must give the probability map `gpuseg predict` gives in tiles, on an
// image scaled before tiling and on one smaller than a tile (mirrored), and the file must carry the
// run's tiling in its metadata.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeOnnxModel } from '../../src/export/onnx-proto.js';
import { gpuseg, useTinyCategory } from '../cli/gpuseg.js';

const TILE = 32;

async function greyPixels(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  expect((await sharp(path).metadata()).channels, path).toBe(1);
  const { data, info } = await sharp(path).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

describe('examples/onnx-tiled.mjs', () => {
  const ctx = useTinyCategory('gpuseg-onnx-tiles-');

  it('gives gpuseg predict\'s tiled probability map to within one level, scaled and mirrored images alike', async () => {
    const run = join(ctx.dir, 'run');
    let r = gpuseg(['train', '--data', ctx.category, '--out', run, '--tile', String(TILE), '--scale', '1', '--batch', '2', '--steps', '2', '--no-nbr', '--no-crop-paste', '--no-eval', '--validate-every', '0']);
    expect(r.status, r.stderr).toBe(0);
    const model = join(ctx.dir, 'unet.onnx');
    r = gpuseg(['export', run, '--onnx', model]);
    expect(r.status, r.stderr).toBe(0);
    const meta = decodeOnnxModel(readFileSync(model)).metadata_props;
    expect(meta).toContainEqual({ key: 'gpuseg.tile', value: String(TILE) });
    expect(meta).toContainEqual({ key: 'gpuseg.scale', value: '1' });

    // A 90 x 70 picture made of the category's images (several tiles at scale 0.75), and a 20 x 26 one.
    const images = join(ctx.dir, 'images');
    const source = join(ctx.category, 'test', 'hole', '000.png');
    mkdirSync(images);
    await sharp(source).resize(90, 70, { fit: 'fill' }).toFile(join(images, 'large.png'));
    await sharp(join(ctx.category, 'test', 'scratch', '001.png')).extract({ left: 3, top: 2, width: 20, height: 26 }).toFile(join(images, 'small.png'));

    for (const [name, scale, width, height] of [['large', 0.75, 90, 70], ['small', 1, 20, 26]] as const) {
      const out = join(ctx.dir, `pred-${name}`);
      r = gpuseg(['predict', '--model', run, '--out', out, '--tile', String(TILE), '--scale', String(scale), join(images, `${name}.png`)]);
      expect(r.status, r.stderr).toBe(0);
      const mine = join(ctx.dir, `${name}-onnx.png`);
      const e = spawnSync(process.execPath, ['examples/onnx-tiled.mjs', model, join(images, `${name}.png`), mine, '--tile', String(TILE), '--scale', String(scale)], { encoding: 'utf8' });
      expect(e.status, e.stderr).toBe(0);
      const ours = await greyPixels(join(out, `${name}_prob.png`));
      const theirs = await greyPixels(mine);
      expect([theirs.width, theirs.height]).toEqual([width, height]);
      expect([ours.width, ours.height]).toEqual([width, height]);
      let worst = 0;
      for (let i = 0; i < ours.data.length; i++) worst = Math.max(worst, Math.abs(ours.data[i]! - theirs.data[i]!));
      // float32 on two runtimes: a probability may round to the neighbouring byte, never further
      expect(worst, name).toBeLessThanOrEqual(1);
      // and the map is not flat, so agreeing means something
      expect(Math.max(...ours.data) - Math.min(...ours.data), name).toBeGreaterThan(10);
    }
  });
});
