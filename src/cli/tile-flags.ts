// The flags of tiled inference, shared by `gpuseg predict` and `gpuseg eval`.
import { Option } from 'commander';
import { DEFAULT_TILE_BATCH } from '../evaluate/tiled-predict.js';
import { InputError, positiveInt, positiveNumber } from './errors.js';

/** The UNet halves its input five times, so a tile is a multiple of 32. */
const TILE_MULTIPLE = 32;

export function tileSize(value: string): number {
  const n = positiveInt('--tile')(value);
  if (n % TILE_MULTIPLE !== 0) throw new InputError(`--tile must be a multiple of ${TILE_MULTIPLE}, got '${value}'`);
  return n;
}

export const tileOption = () =>
  new Option('--tile <n>', "run each image at its own pixels in overlapping n x n tiles (a multiple of 32) instead of resized to the run's size (default: the run's config.json tile, if trained on tiles)").argParser(tileSize);
export const scaleOption = () =>
  new Option('--scale <x>', "with tiles: run the image at its size times x (default: the run's config.json scale, else 1)").argParser(positiveNumber('--scale'));
export const tileBatchOption = () =>
  new Option('--tile-batch <n>', 'with tiles: tiles per forward pass').argParser(positiveInt('--tile-batch')).default(DEFAULT_TILE_BATCH);
