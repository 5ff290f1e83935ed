// Which inference an image gets, and the tiled one: a run trained on tiles (config.json `tile`, `scale`)
// or a --tile flag runs images at their own pixels (times the scale) in overlapping tiles (tiles.ts);
// otherwise an image is squeezed to the run's size and its map resized back, as before.
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { DEFAULT_RESIZE, type ResizePolicy, type RgbImage, padBox, resizeProbability, resizeProbabilityFrom } from '../data/index.js';
import { MAX_PIXELS } from '../data/image.js';
import { resizeRgb, scaledSide } from '../data/native.js';
import type { Unet } from '../model/unet.js';
import { InputError } from '../util/errors.js';
import { CONFIG_FILE } from '../run/checkpoint.js';
import { predictLogits } from './inference.js';
import { type LoadedModel, predict } from './model-io.js';
import { type Tiling, defaultOverlap, tiledLogits } from './tiles.js';

/** Tiles per forward pass unless --tile-batch says otherwise: predict's and eval's batch. */
export const DEFAULT_TILE_BATCH = 4;
/** The UNet halves its input five times. */
const SIZE_MULTIPLE = 32;
const BYTE_MAX = 255;

export type { Tiling } from './tiles.js';

export interface TilingFlags {
  tile?: number;
  scale?: number;
  tileBatch?: number;
}

/** How eval.json records the inference it measured. */
export type InferencePath = { mode: 'resize'; size: number; resize: ResizePolicy } | ({ mode: 'tiles'; window: string } & Tiling);

export function inferencePath(size: number, tiling: Tiling | null, resize: ResizePolicy = DEFAULT_RESIZE): InferencePath {
  if (!tiling) return { mode: 'resize', size, resize };
  return { mode: 'tiles', ...tiling, window: 'raised-cosine ramps over the overlap, weights normalised to sum 1; logits blended' };
}

/**
 * The tiling of a predict or eval call: the flags first, then the run's config.json; null (the resize
 * path) when neither names a tile.
 */
export function tilingOf(runDir: string, config: Record<string, unknown> | null, flags: TilingFlags): Tiling | null {
  const source = join(runDir, CONFIG_FILE);
  const recorded = (key: 'tile' | 'scale') => (config && config[key] !== undefined && config[key] !== null ? config[key] : undefined);
  const tile = flags.tile ?? recorded('tile');
  if (tile === undefined) {
    if (flags.scale !== undefined) throw new InputError('--scale applies to tiled inference: give --tile too');
    return null;
  }
  if (!Number.isSafeInteger(tile) || (tile as number) < SIZE_MULTIPLE || (tile as number) % SIZE_MULTIPLE !== 0) {
    throw new InputError(`${flags.tile !== undefined ? '--tile' : `${source}: 'tile'`} must be a multiple of ${SIZE_MULTIPLE}, got ${JSON.stringify(tile)}`);
  }
  const scale = flags.scale ?? recorded('scale') ?? 1;
  if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale)) {
    throw new InputError(`${flags.scale !== undefined ? '--scale' : `${source}: 'scale'`} must be a positive number, got ${JSON.stringify(scale)}`);
  }
  const n = tile as number;
  return { tile: n, overlap: defaultOverlap(n), scale, batch: flags.tileBatch ?? DEFAULT_TILE_BATCH };
}

/** W x H logits of an RGB image: tiled at its size times the scale, brought back to W x H. */
export async function nativeLogits<S>(model: Unet<S>, backend: Backend<S>, image: RgbImage, t: Tiling): Promise<Float32Array> {
  const width = scaledSide(image.width, t.scale);
  const height = scaledSide(image.height, t.scale);
  if (width * height > MAX_PIXELS) {
    throw new InputError(`--scale ${t.scale} makes a ${image.width}x${image.height} image ${width}x${height}, more than the ${MAX_PIXELS} pixels gpuseg handles`);
  }
  const scaled = await resizeRgb(image, width, height);
  const logits = await tiledLogits(scaled, (tiles, n) => predictLogits(model, backend, tiles, n, tiles.length), t);
  return resizeMap(logits, width, height, image.width, image.height);
}

/** The 8-bit probability map (W x H) of an image read from `path`, by the tiled or the resize path. */
export async function probabilityMap(loaded: LoadedModel, path: string, image: RgbImage, tiling: Tiling | null): Promise<Uint8Array> {
  if (!tiling) {
    const [prob] = await predict(loaded, [path]);
    if (loaded.resize !== 'pad') return resizeProbability(prob!, loaded.size, image.width, image.height);
    // The black bars are no part of the image: their scores are dropped before the map is resized back.
    const box = padBox(image.width, image.height, loaded.size);
    return resizeProbabilityFrom(cropMap(prob!, loaded.size, box), box.width, box.height, image.width, image.height);
  }
  return probabilityBytes(await nativeLogits(loaded.model, loaded.device.backend, image, tiling));
}

/** The box's values of a size x size map, row-major. */
export function cropMap<T extends Float32Array | Uint8Array>(map: T, size: number, box: { left: number; top: number; width: number; height: number }): T {
  const out = (map instanceof Float32Array ? new Float32Array(box.width * box.height) : new Uint8Array(box.width * box.height)) as T;
  for (let y = 0; y < box.height; y++) {
    const from = (box.top + y) * size + box.left;
    for (let x = 0; x < box.width; x++) out[y * box.width + x] = map[from + x]!;
  }
  return out;
}

/**
 * 8-bit probabilities of logits (sigmoid in float64), in a plain loop: Uint8Array.from with a map
 * function gathers every value into a JavaScript array first, 2 GB of heap for an 8000x8000 map.
 */
export function probabilityBytes(logits: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(logits.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(BYTE_MAX / (1 + Math.exp(-logits[i]!)));
  return out;
}

/**
 * A float map resized bilinearly (pixel centres aligned, edges clamped). Logits, not probabilities, so
 * eval ranks the same scores it would at the scaled size. The same size comes back as it is.
 */
export function resizeMap(map: Float32Array, width: number, height: number, toWidth: number, toHeight: number): Float32Array {
  if (width === toWidth && height === toHeight) return map;
  const out = new Float32Array(toWidth * toHeight);
  const axis = (to: number, from: number) =>
    Array.from({ length: to }, (_, i) => {
      const f = Math.min(from - 1, Math.max(0, ((i + 0.5) * from) / to - 0.5));
      const lo = Math.floor(f);
      return { lo, hi: Math.min(from - 1, lo + 1), t: f - lo };
    });
  const xs = axis(toWidth, width);
  const ys = axis(toHeight, height);
  for (let y = 0; y < toHeight; y++) {
    const { lo: y0, hi: y1, t: ty } = ys[y]!;
    for (let x = 0; x < toWidth; x++) {
      const { lo: x0, hi: x1, t: tx } = xs[x]!;
      const top = map[y0 * width + x0]! * (1 - tx) + map[y0 * width + x1]! * tx;
      const bottom = map[y1 * width + x0]! * (1 - tx) + map[y1 * width + x1]! * tx;
      out[y * toWidth + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}
