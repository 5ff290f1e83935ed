// The synthetic data set's procedural textures (synth.ts), and the integer-hash noise they and the
// defects (synth-defects.ts) are made of: one file per kind of drawing, so each reads on its own.
import type { Rng } from '../util/random.js';

export const RGB = 3;

// ---- noise: integer hashing, so the same seed gives the same pixels everywhere

export function hash2(ix: number, iy: number, salt: number): number {
  let h = Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ Math.imul(salt, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Smoothly interpolated lattice noise in [0, 1). */
export function valueNoise(x: number, y: number, salt: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const top = hash2(ix, iy, salt) * (1 - sx) + hash2(ix + 1, iy, salt) * sx;
  const bottom = hash2(ix, iy + 1, salt) * (1 - sx) + hash2(ix + 1, iy + 1, salt) * sx;
  return top * (1 - sy) + bottom * sy;
}

export function saltOf(r: Rng): number {
  return Math.floor(r() * 0x7fffffff);
}

// ---- textures: size x size x 3 floats in [0, 1], varied per image by r

export type Texture = (size: number, r: Rng) => Float32Array;

function fillRgb(size: number, pixel: (x: number, y: number) => [number, number, number]): Float32Array {
  const out = new Float32Array(size * size * RGB);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) out.set(pixel(x, y), (y * size + x) * RGB);
  }
  return out;
}

const FABRIC_TINT = [0.66, 0.58, 0.47] as const;
/** Threads across the image: 8 px threads at 256 px. */
const THREADS_ACROSS = 32;
const MIN_THREAD_PX = 4;

/** Plain weave: alternating warp and weft threads, each shaded across its width, with fibre noise. */
export const fabric: Texture = (size, r) => {
  const period = Math.max(MIN_THREAD_PX, Math.round(size / THREADS_ACROSS));
  const ox = r() * 2 * period;
  const oy = r() * 2 * period;
  const brightness = 0.95 + 0.1 * r();
  const salt = saltOf(r);
  return fillRgb(size, (x, y) => {
    const u = (x + ox) / period;
    const v = (y + oy) / period;
    const warp = (Math.floor(u) + Math.floor(v)) % 2 === 0;
    const across = warp ? u - Math.floor(u) : v - Math.floor(v);
    const shade = 0.7 + 0.3 * Math.sin(Math.PI * across);
    const fibre = 0.1 * (valueNoise(warp ? x / 2 : x / 9, warp ? y / 9 : y / 2, salt) - 0.5);
    const l = brightness * shade * (1 + fibre);
    return [FABRIC_TINT[0] * l, FABRIC_TINT[1] * l, FABRIC_TINT[2] * l];
  });
};

/** A cool grey: brushed steel is slightly blue. */
const METAL_TINT = [0.97, 1.0, 1.05] as const;

/** Brushed metal: long horizontal streaks over a fine grain and a soft light gradient. */
export const brushedMetal: Texture = (size, r) => {
  const base = 0.5 + 0.1 * r();
  const streakLength = size * (0.1 + 0.1 * r());
  const gradient = 0.1 * (r() - 0.5);
  const salt = saltOf(r);
  return fillRgb(size, (x, y) => {
    const streak = valueNoise(x / streakLength, y / 1.5, salt) - 0.5;
    const grain = valueNoise(x / 4, y, salt + 1) - 0.5;
    const l = base + 0.2 * streak + 0.06 * grain + gradient * (x / size - 0.5);
    return [METAL_TINT[0] * l, METAL_TINT[1] * l, METAL_TINT[2] * l];
  });
};

const TILE_COLOUR = [0.72, 0.5, 0.38] as const;
const GROUT_GREY = 0.33;
/** Tiles across the image; grout is a tenth of a tile. */
const TILES_ACROSS = 6;
const MIN_TILE_PX = 8;

/** Tiles: a grid of slightly different terracotta tiles with grey grout and a speckle. */
export const tiles: Texture = (size, r) => {
  const cell = Math.max(MIN_TILE_PX, Math.round(size / TILES_ACROSS));
  const grout = Math.max(1, Math.round(cell / 10));
  const ox = Math.floor(r() * cell);
  const oy = Math.floor(r() * cell);
  const salt = saltOf(r);
  return fillRgb(size, (x, y) => {
    const cx = Math.floor((x + ox) / cell);
    const cy = Math.floor((y + oy) / cell);
    const speckle = 0.08 * (valueNoise(x / 1.5, y / 1.5, salt) - 0.5);
    if (x + ox - cx * cell < grout || y + oy - cy * cell < grout) {
      const l = GROUT_GREY + speckle / 2;
      return [l, l, l];
    }
    const tone = 0.88 + 0.16 * hash2(cx, cy, salt + 1);
    return [TILE_COLOUR[0] * tone + speckle, TILE_COLOUR[1] * tone + speckle, TILE_COLOUR[2] * tone + speckle];
  });
};
