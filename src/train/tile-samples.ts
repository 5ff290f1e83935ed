// Training on tiles: each sample of a batch is an N x N crop of an image at its own pixels (times the
// scale) instead of the whole image squeezed to N x N. A shot's tile mostly holds part of its defect; a
// normal image's tile is anywhere. Where a tile is cut is drawn as fractions from the batch's random
// stream before any image is decoded (its size is not known yet), so a resumed run draws the same tiles.
import { bytesToRgb } from '../data/index.js';
import type { RgbImage } from '../data/overlay.js';
import type { Rng } from '../util/random.js';
import type { Sample, TileSources } from './batch.js';
import { reflect } from '../evaluate/tiles.js';

/**
 * Of a shot's tiles, the share placed over its defect (ours). The rest are cut anywhere in the shot
 * image, so the network also sees the shot's normal parts as normal at their true surroundings.
 */
export const DEFECT_TILE_SHARE = 0.75;
/** The defect pixel a tile is placed over lies at least this share of the tile from its border, where the image allows. */
const MARGIN_SHARE = 1 / 8;

export const tileMargin = (tile: number): number => Math.floor(tile * MARGIN_SHARE);

/** Uniform fractions in [0, 1) that place one tile: a shot's four, a normal image's two. */
export type TileDraw = readonly number[];

/** A shot at the training scale, with the indices of its defect pixels (row-major). */
export interface TileShot {
  image: RgbImage;
  /** width x height, 0/1. */
  mask: Uint8Array;
  defects: Int32Array;
}

export function tileShot(image: RgbImage, mask: Uint8Array): TileShot {
  const defects: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) defects.push(i);
  return { image, mask, defects: Int32Array.from(defects) };
}

/** A tile's start along a side of `length` pixels at fraction u of the possible starts (0 when the side is shorter: padded by reflection). */
export function anywhere(length: number, tile: number, u: number): number {
  return length <= tile ? 0 : Math.min(length - tile, Math.floor(u * (length - tile + 1)));
}

/**
 * The start of a tile along one axis that holds pixel p at least `margin` pixels from the tile's
 * border, at fraction u of the starts that do; clamped to the image, which keeps p inside the tile (p
 * lies within the image) though nearer its border when p is within `margin` of the image's.
 */
export function around(p: number, length: number, tile: number, margin: number, u: number): number {
  const lo = p - (tile - 1 - margin);
  const hi = p - margin;
  const start = lo + Math.min(hi - lo, Math.floor(u * (hi - lo + 1)));
  return Math.max(0, Math.min(Math.max(0, length - tile), start));
}

/**
 * Where a shot's tile starts: with probability DEFECT_TILE_SHARE (d[0]) over a defect pixel chosen
 * uniformly (d[1]; a large defect is met more often, as in whole images), placed by around (d[2],
 * d[3]); otherwise, or when the shot has no defect pixel, anywhere.
 */
export function shotTileOrigin(shot: { defects: Int32Array; image: { width: number; height: number } }, tile: number, d: TileDraw): { x: number; y: number; overDefect: boolean } {
  const { width, height } = shot.image;
  if (d[0]! >= DEFECT_TILE_SHARE || shot.defects.length === 0) return { x: anywhere(width, tile, d[2]!), y: anywhere(height, tile, d[3]!), overDefect: false };
  const pixel = shot.defects[Math.min(shot.defects.length - 1, Math.floor(d[1]! * shot.defects.length))]!;
  const margin = tileMargin(tile);
  const x = around(pixel % width, width, tile, margin, d[2]!);
  const y = around(Math.floor(pixel / width), height, tile, margin, d[3]!);
  return { x, y, overDefect: true };
}

/** The tile x tile crop at (x0, y0) of an HWC image of `channels`, mirrored past its right and bottom edges (as tiled inference pads). */
export function cutBytes(data: Uint8Array, width: number, height: number, channels: number, x0: number, y0: number, tile: number): Uint8Array {
  const out = new Uint8Array(tile * tile * channels);
  for (let ty = 0; ty < tile; ty++) {
    const row = reflect(y0 + ty, height) * width;
    for (let tx = 0; tx < tile; tx++) {
      const from = (row + reflect(x0 + tx, width)) * channels;
      const to = (ty * tile + tx) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c]!;
    }
  }
  return out;
}

/** The batch's sources on tiles: shots held in memory at the training scale, normal images decoded per draw through `normal`. */
export function tileSources(shots: TileShot[], normal: (index: number) => Promise<RgbImage>, tile: number): TileSources {
  return {
    shotCount: shots.length,
    drawShot: (r: Rng) => [r(), r(), r(), r()],
    drawNormal: (r: Rng) => [r(), r()],
    shot(index: number, d: TileDraw): Sample {
      const s = shots[index]!;
      const { x, y } = shotTileOrigin(s, tile, d);
      const { width, height, data } = s.image;
      return { image: bytesToRgb(cutBytes(data, width, height, 3, x, y, tile)), mask: cutBytes(s.mask, width, height, 1, x, y, tile) };
    },
    async normal(index: number, d: TileDraw): Promise<Uint8Array> {
      const { data, width, height } = await normal(index);
      return cutBytes(data, width, height, 3, anywhere(width, tile, d[0]!), anywhere(height, tile, d[1]!), tile);
    },
  };
}
