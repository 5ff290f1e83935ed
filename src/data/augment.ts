// Flips and quarter turns of a square image together with its mask: the 8 symmetries of the square
// (the dihedral group D4). Each is a pure permutation of pixels, so it loses nothing and is undone
// exactly by its inverse.
import type { Rng } from '../util/random.js';

/** Number of distinct flip/rotation combinations of a square. */
export const DIHEDRAL_COUNT = 8;
export const QUARTER_TURNS = 4;
/** Bit of a transform index that mirrors left-right before the quarter turns. */
export const MIRROR_BIT = 4;

/**
 * Transform t (0..7): mirror left-right when t & 4, then rotate (t & 3) quarter turns clockwise.
 * Returns where the pixel at (y, x) lands in a size x size image.
 */
export function dihedralPoint(t: number, y: number, x: number, size: number): [number, number] {
  checkTransform(t);
  return landing(t, y, x, size);
}

function landing(t: number, y: number, x: number, size: number): [number, number] {
  const last = size - 1;
  if (t & MIRROR_BIT) x = last - x;
  for (let turn = 0; turn < (t & (QUARTER_TURNS - 1)); turn++) [y, x] = [x, last - y];
  return [y, x];
}

/**
 * Transform t as an index map of a size x size image: pixel (y, x) lands at start + y * stepY + x * stepX
 * (every flip and quarter turn is affine in the pixel index).
 */
export function dihedralSteps(t: number, size: number): { start: number; stepX: number; stepY: number } {
  checkTransform(t);
  const [oy, ox] = landing(t, 0, 0, size);
  const [xy, xx] = landing(t, 0, 1, size);
  const [yy, yx] = landing(t, 1, 0, size);
  return { start: oy * size + ox, stepX: (xy - oy) * size + (xx - ox), stepY: (yy - oy) * size + (yx - ox) };
}

/** The transform that undoes t: a mirrored one is its own inverse, a rotation turns back. */
export function invertDihedral(t: number): number {
  checkTransform(t);
  return t & MIRROR_BIT ? t : (QUARTER_TURNS - t) % QUARTER_TURNS;
}

export function checkTransform(t: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= DIHEDRAL_COUNT) {
    throw new Error(`dihedral transform must be an integer in 0..7, got ${t}`);
  }
}

/** Applies transform t to a size x size x channels HWC array, returning a new array of the same type. */
export function applyDihedral<T extends Float32Array | Uint8Array>(
  data: T,
  size: number,
  channels: number,
  t: number,
): T {
  if (data.length !== size * size * channels) {
    throw new Error(`applyDihedral: ${data.length} values do not make a ${size}x${size}x${channels} image`);
  }
  const { start, stepX, stepY } = dihedralSteps(t, size);
  const out = data.slice() as T;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + x) * channels;
      const to = (start + y * stepY + x * stepX) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c]!;
    }
  }
  return out;
}

/**
 * One random transform, the same for an HWC image and its HW mask so that they stay aligned. Uses
 * exactly one draw of r. Returns the transform index so that a prediction can be mapped back.
 */
export function randomFlipRot<M extends Float32Array | Uint8Array>(
  image: Float32Array,
  mask: M,
  size: number,
  channels: number,
  r: Rng,
): { image: Float32Array; mask: M; transform: number } {
  const transform = Math.min(DIHEDRAL_COUNT - 1, Math.floor(r() * DIHEDRAL_COUNT));
  return {
    image: applyDihedral(image, size, channels, transform),
    mask: applyDihedral(mask, size, 1, transform),
    transform,
  };
}
