// A synthetic data set in the MVTec AD layout, for tests and demos without downloading MVTec: a few
// procedural textures, each with defect types whose masks are exact (a mask pixel is 255 exactly where
// the defect image differs from the same image without its defect). Deterministic for a seed.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rng } from '../util/random.js';
import { writePng } from './image.js';
import { streamRng } from './split.js';
import { InputError } from '../util/errors.js';

export interface SynthOptions {
  size?: number;
  seed?: number;
  /** Category names to write (default: all of SYNTH_CATEGORIES). */
  categories?: string[];
  trainGood?: number;
  testGood?: number;
  perType?: number;
}

type SynthSettings = Required<Omit<SynthOptions, 'categories'>>;

/** Small enough to write in a few seconds, large enough to train and evaluate 5-shot on. */
export const SYNTH_DEFAULTS: Readonly<SynthSettings> = {
  size: 256,
  seed: 0,
  trainGood: 30,
  testGood: 6,
  perType: 6,
};

export interface SynthSummary {
  categories: {
    name: string;
    dir: string;
    types: string[];
    counts: { trainGood: number; testGood: number; perType: Record<string, number> };
  }[];
}

const RGB = 3;
const BYTE_MAX = 255;
/** The smallest image on which every defect still fits with a margin. */
const MIN_SIZE = 32;
/** Defect contrast range: visible, but not a trivially separable colour. */
const CONTRAST_MIN = 0.15;
const CONTRAST_MAX = 0.4;
/** A mask pixel whose alteration rounded away (clipping) is pushed this far instead. */
const MIN_VISIBLE_STEP = Math.round(CONTRAST_MIN * BYTE_MAX);
/** Defect centres keep this share of the size away from the border. */
const CENTRE_MARGIN = 0.15;
/**
 * Written first into every category folder: synthesize only overwrites folders that carry it, so a run
 * cut short can be repeated, and a folder of real data is never deleted.
 */
const MARKER_FILE = 'synth.json';
const GENERATOR = 'gpuseg-synth/1';
/** PNG writes in flight at once: enough to keep sharp's thread pool busy, few enough to bound memory. */
const WRITE_BATCH = 16;

// ---- noise: integer hashing, so the same seed gives the same pixels everywhere

function hash2(ix: number, iy: number, salt: number): number {
  let h = Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ Math.imul(salt, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Smoothly interpolated lattice noise in [0, 1). */
function valueNoise(x: number, y: number, salt: number): number {
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

function saltOf(r: Rng): number {
  return Math.floor(r() * 0x7fffffff);
}

// ---- textures: size x size x 3 floats in [0, 1], varied per image by r

type Texture = (size: number, r: Rng) => Float32Array;

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
const fabric: Texture = (size, r) => {
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
const brushedMetal: Texture = (size, r) => {
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
const tiles: Texture = (size, r) => {
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

// ---- defect shapes: size x size masks of 0/1, never empty (each contains its own start or centre)

type Point = [number, number];

function scanMask(size: number, inside: (x: number, y: number) => boolean): Uint8Array {
  const mask = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) mask[y * size + x] = inside(x, y) ? 1 : 0;
  return mask;
}

function centre(size: number, r: Rng): Point {
  const span = size * (1 - 2 * CENTRE_MARGIN);
  return [Math.floor(size * CENTRE_MARGIN + r() * span), Math.floor(size * CENTRE_MARGIN + r() * span)];
}

function segmentDistance(x: number, y: number, [ax, ay]: Point, [bx, by]: Point): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSq = dx * dx + dy * dy;
  const t = lengthSq === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / lengthSq));
  return Math.hypot(x - ax - t * dx, y - ay - t * dy);
}

/** Pixels within halfWidth of a polyline. */
function polylineMask(size: number, points: Point[], halfWidth: number): Uint8Array {
  return scanMask(size, (x, y) => {
    for (let i = 1; i < points.length; i++) {
      if (segmentDistance(x, y, points[i - 1]!, points[i]!) <= halfWidth) return true;
    }
    return false;
  });
}

/** A straight thin line: 15-40% of the size long, 1.4-3 px wide. */
function lineShape(size: number, r: Rng): Uint8Array {
  const start = centre(size, r);
  const angle = r() * 2 * Math.PI;
  const length = size * (0.15 + 0.25 * r());
  const end: Point = [start[0] + length * Math.cos(angle), start[1] + length * Math.sin(angle)];
  return polylineMask(size, [start, end], 0.7 + 0.8 * r());
}

/** A wandering thin line: a random walk of 4-7 short segments. */
function crackShape(size: number, r: Rng): Uint8Array {
  const points: Point[] = [centre(size, r)];
  let angle = r() * 2 * Math.PI;
  const segments = 4 + Math.floor(r() * 4);
  for (let i = 0; i < segments; i++) {
    const [x, y] = points[points.length - 1]!;
    const step = Math.max(2, size * (0.04 + 0.04 * r()));
    angle += 1.2 * (r() - 0.5);
    points.push([x + step * Math.cos(angle), y + step * Math.sin(angle)]);
  }
  return polylineMask(size, points, 0.6 + 0.6 * r());
}

/** A filled, rotated ellipse with radii of 3.5-9% of the size. */
function ellipseShape(size: number, r: Rng): Uint8Array {
  const [cx, cy] = centre(size, r);
  const rx = Math.max(2, size * (0.035 + 0.055 * r()));
  const ry = Math.max(2, size * (0.035 + 0.055 * r()));
  const angle = r() * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return scanMask(size, (x, y) => {
    const u = ((x - cx) * cos + (y - cy) * sin) / rx;
    const v = (-(x - cx) * sin + (y - cy) * cos) / ry;
    return u * u + v * v <= 1;
  });
}

/** An irregular blob: a disc whose edge is pushed in and out by noise (the centre is always inside). */
function blobShape(size: number, r: Rng): Uint8Array {
  const [cx, cy] = centre(size, r);
  const radius = Math.max(3, size * (0.05 + 0.07 * r()));
  const salt = saltOf(r);
  const wobble = radius / 2;
  return scanMask(size, (x, y) => {
    const d = Math.hypot(x - cx, y - cy) / radius;
    return d + 0.6 * (valueNoise(x / wobble, y / wobble, salt) - 0.5) < 1;
  });
}

// ---- alterations: change the pixels of the mask only

type Alteration = (image: Float32Array, mask: Uint8Array, contrast: number, r: Rng) => void;

function eachMasked(image: Float32Array, mask: Uint8Array, f: (rgb: Float32Array, p: number) => void): void {
  for (let p = 0; p < mask.length; p++) if (mask[p]) f(image.subarray(p * RGB, p * RGB + RGB), p);
}

/** Brighter or darker by the contrast, keeping the texture underneath (a scratch catching the light). */
const shift: Alteration = (image, mask, contrast, r) => {
  const sign = r() < 0.5 ? -1 : 1;
  eachMasked(image, mask, (rgb) => rgb.forEach((v, c) => (rgb[c] = v + sign * contrast)));
};

const darken: Alteration = (image, mask, contrast) => {
  eachMasked(image, mask, (rgb) => rgb.forEach((v, c) => (rgb[c] = v - contrast)));
};

/** A hole shows a dark, colourless, grainy backing instead of the texture. */
const seeThrough: Alteration = (image, mask, contrast, r) => {
  const salt = saltOf(r);
  eachMasked(image, mask, (rgb, p) => {
    const luminance = (rgb[0]! + rgb[1]! + rgb[2]!) / RGB;
    const grain = 0.08 * (hash2(p, 0, salt) - 0.5);
    rgb.fill(luminance - contrast + grain);
  });
};

/** A spot is flat: the image's mean colour, lighter or darker, with the texture gone. */
const flatSpot: Alteration = (image, mask, contrast, r) => {
  const mean = [0, 0, 0];
  for (let i = 0; i < image.length; i++) mean[i % RGB]! += image[i]! / (image.length / RGB);
  const sign = r() < 0.5 ? -1 : 1;
  eachMasked(image, mask, (rgb) => rgb.forEach((_, c) => (rgb[c] = mean[c]! + sign * contrast)));
};

/** Takes the contrast off blue, less off red: a yellow-brown stain over the texture. */
const STAIN_ABSORPTION = [0.5, 0.8, 1.0] as const;
const stainTint: Alteration = (image, mask, contrast) => {
  eachMasked(image, mask, (rgb) => rgb.forEach((v, c) => (rgb[c] = v - contrast * STAIN_ABSORPTION[c]!)));
};

interface DefectKind {
  shape: (size: number, r: Rng) => Uint8Array;
  alter: Alteration;
}

const DEFECTS = {
  scratch: { shape: lineShape, alter: shift },
  crack: { shape: crackShape, alter: darken },
  hole: { shape: ellipseShape, alter: seeThrough },
  spot: { shape: ellipseShape, alter: flatSpot },
  stain: { shape: blobShape, alter: stainTint },
} satisfies Record<string, DefectKind>;

type DefectName = keyof typeof DEFECTS;

/** Folder names after MVTec's nearest categories (carpet, metal_nut, tile). */
export const SYNTH_CATEGORIES: Record<string, { texture: Texture; defects: DefectName[] }> = {
  fabric: { texture: fabric, defects: ['hole', 'scratch', 'stain'] },
  brushed_metal: { texture: brushedMetal, defects: ['scratch', 'spot', 'stain'] },
  tile: { texture: tiles, defects: ['crack', 'spot', 'stain'] },
};

const knownCategories = (): string => Object.keys(SYNTH_CATEGORIES).join(', ');

// ---- one sample

function toBytes(image: Float32Array): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, image[i]!)) * BYTE_MAX);
  return out;
}

/**
 * Where clipping or rounding left a mask pixel unchanged, pushes it visibly away from its clean value,
 * so that the mask is exactly the set of changed pixels.
 */
function makeMaskExact(clean: Uint8Array, image: Uint8Array, mask: Uint8Array): void {
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const o = p * RGB;
    if (image[o] !== clean[o] || image[o + 1] !== clean[o + 1] || image[o + 2] !== clean[o + 2]) continue;
    for (let c = o; c < o + RGB; c++) {
      image[c] = clean[c]! + MIN_VISIBLE_STEP <= BYTE_MAX ? clean[c]! + MIN_VISIBLE_STEP : clean[c]! - MIN_VISIBLE_STEP;
    }
  }
}

export interface SynthSample {
  /** The image without its defect, as RGB bytes (HWC). */
  clean: Uint8Array;
  /** The image as written (equal to clean for normal images). */
  image: Uint8Array;
  /** 0/1 per pixel for defect images. */
  mask?: Uint8Array;
}

/**
 * Renders one image of a category: `folder` is 'train' for train/good, 'good' for test/good, or a
 * defect type. The texture and the defect draw from separate streams, so `clean` is the very image
 * the defect was painted on.
 */
export function renderSample(category: string, folder: string, index: number, size: number, seed: number): SynthSample {
  const spec = SYNTH_CATEGORIES[category];
  if (!spec) throw new InputError(`unknown synthetic category '${category}' (known: ${knownCategories()})`);
  const stream = `${category}/${folder}/${index}`;
  const texture = spec.texture(size, streamRng(seed, `${stream}/texture`));
  const clean = toBytes(texture);
  if (folder === 'train' || folder === 'good') return { clean, image: clean };
  if (!(spec.defects as string[]).includes(folder)) {
    throw new InputError(`synthetic category '${category}' has no defect type '${folder}'`);
  }
  const r = streamRng(seed, `${stream}/defect`);
  const defect = DEFECTS[folder as DefectName];
  const mask = defect.shape(size, r);
  const contrast = CONTRAST_MIN + (CONTRAST_MAX - CONTRAST_MIN) * r();
  const altered = texture.slice();
  defect.alter(altered, mask, contrast, r);
  const image = toBytes(altered);
  makeMaskExact(clean, image, mask);
  return { clean, image, mask };
}

// ---- writing the data set

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new InputError(`synth: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Empties a category folder written earlier by synthesize; refuses any other non-empty folder. */
async function prepareFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return; // does not exist yet
  }
  if (entries.length === 0) return;
  let marker: { generator?: unknown } | undefined;
  try {
    marker = JSON.parse(await readFile(join(dir, MARKER_FILE), 'utf8')) as { generator?: unknown };
  } catch {
    marker = undefined;
  }
  if (marker?.generator !== GENERATOR) {
    throw new InputError(`synth: refusing to overwrite '${dir}': it is not empty and was not written by gpuseg synth`);
  }
  await rm(dir, { recursive: true });
}

const fileName = (index: number): string => String(index).padStart(3, '0');

/** Writes the data set under outDir (one folder per category) and returns what it wrote. */
export async function synthesize(outDir: string, options: SynthOptions = {}): Promise<SynthSummary> {
  const { size, seed, trainGood, testGood, perType } = { ...SYNTH_DEFAULTS, ...definedOnly(options) };
  const names = options.categories ?? Object.keys(SYNTH_CATEGORIES);
  checkCount('size', size, MIN_SIZE);
  checkCount('seed', seed, 0);
  checkCount('trainGood', trainGood, 1);
  checkCount('testGood', testGood, 0);
  checkCount('perType', perType, 1);
  for (const name of names) {
    if (!SYNTH_CATEGORIES[name]) {
      throw new InputError(`synth: unknown category '${name}' (known: ${knownCategories()})`);
    }
  }

  const summary: SynthSummary = { categories: [] };
  for (const name of names) {
    const dir = join(outDir, name);
    await prepareFolder(dir);
    await mkdir(dir, { recursive: true });
    const types = SYNTH_CATEGORIES[name]!.defects;
    const counts = { trainGood, testGood, perType: Object.fromEntries(types.map((t) => [t, perType])) };
    const marker = { generator: GENERATOR, size, seed, counts };
    await writeFile(join(dir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
    const jobs: (() => Promise<void>)[] = [];
    const writeNormal = (folder: 'train' | 'good', path: string, i: number) => {
      jobs.push(() => writePng(path, renderSample(name, folder, i, size, seed).image, size, size, RGB));
    };
    for (let i = 0; i < trainGood; i++) writeNormal('train', join(dir, 'train', 'good', `${fileName(i)}.png`), i);
    for (let i = 0; i < testGood; i++) writeNormal('good', join(dir, 'test', 'good', `${fileName(i)}.png`), i);
    for (const type of types) {
      for (let i = 0; i < perType; i++) {
        jobs.push(async () => {
          const sample = renderSample(name, type, i, size, seed);
          const maskBytes = sample.mask!.map((v) => v * BYTE_MAX);
          await Promise.all([
            writePng(join(dir, 'test', type, `${fileName(i)}.png`), sample.image, size, size, RGB),
            writePng(join(dir, 'ground_truth', type, `${fileName(i)}_mask.png`), maskBytes, size, size, 1),
          ]);
        });
      }
    }
    for (let start = 0; start < jobs.length; start += WRITE_BATCH) {
      await Promise.all(jobs.slice(start, start + WRITE_BATCH).map((job) => job()));
    }
    summary.categories.push({ name, dir, types: [...types], counts });
  }
  return summary;
}

/** Drops undefined fields, so that `{ size: undefined }` keeps the default. */
function definedOnly(options: SynthOptions): Partial<SynthSettings> {
  const out: Partial<SynthSettings> = {};
  for (const key of Object.keys(SYNTH_DEFAULTS) as (keyof SynthSettings)[]) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
