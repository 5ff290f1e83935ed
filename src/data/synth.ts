// A synthetic data set in the MVTec AD layout, for tests and demos without downloading MVTec: a few
// procedural categories, each with defect types whose masks are exact (a mask pixel is 255 exactly where
// the defect image differs from the same image without its defect). Deterministic for a seed.
// Here: the categories, one sample, and the writing. The drawing: regular textures in synth-textures.ts
// and synth-defects.ts; categories whose normal images vary in synth-objects.ts and synth-varied.ts.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePng } from './image.js';
import { streamRng } from './split.js';
import { DEFECTS, type DefectName } from './synth-defects.js';
import { capsule } from './synth-capsule.js';
import { pill } from './synth-objects.js';
import type { SynthCategory } from './synth-scene.js';
import { RGB, type Texture, brushedMetal, fabric, tiles } from './synth-textures.js';
import { wood } from './synth-varied.js';
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

const BYTE_MAX = 255;
/** The smallest image on which every defect still fits with a margin. */
const MIN_SIZE = 32;
/** Defect contrast range: visible, but not a trivially separable colour. */
const CONTRAST_MIN = 0.15;
const CONTRAST_MAX = 0.4;
/** A mask pixel whose alteration rounded away (clipping) is pushed this far instead. */
const MIN_VISIBLE_STEP = Math.round(CONTRAST_MIN * BYTE_MAX);
/**
 * Written first into every category folder: synthesize only overwrites folders that carry it, so a run
 * cut short can be repeated, and a folder of real data is never deleted.
 */
const MARKER_FILE = 'synth.json';
const GENERATOR = 'gpuseg-synth/1';
/** PNG writes in flight at once: enough to keep sharp's thread pool busy, few enough to bound memory. */
const WRITE_BATCH = 16;

/**
 * A regular texture whose normal images differ only in phase and a little brightness; its defects draw
 * their shape, then their contrast, then their alteration from the defect stream.
 */
function textureCategory(description: string, texture: Texture, defects: DefectName[]): SynthCategory {
  return {
    description,
    defects,
    draw: (size, type, scene, r) => {
      const clean = texture(size, scene);
      if (type === undefined) return { clean };
      const defect = DEFECTS[type as DefectName];
      const mask = defect.shape(size, r);
      const contrast = CONTRAST_MIN + (CONTRAST_MAX - CONTRAST_MIN) * r();
      const altered = clean.slice();
      defect.alter(altered, mask, contrast, r);
      return { clean, altered, mask };
    },
  };
}

/** Folder names after MVTec's nearest categories (carpet, metal_nut, tile, pill, wood, capsule). */
export const SYNTH_CATEGORIES: Record<string, SynthCategory> = {
  fabric: textureCategory('a regular plain weave', fabric, ['hole', 'scratch', 'stain']),
  brushed_metal: textureCategory('regular brushed steel', brushedMetal, ['scratch', 'spot', 'stain']),
  tile: textureCategory('a regular grid of tiles', tiles, ['crack', 'spot', 'stain']),
  pill,
  wood,
  capsule,
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
  /** 0/1 per pixel where a benign mark lies (pill, wood): normal variation that no mask contains. */
  benign?: Uint8Array;
}

/**
 * Renders one image of a category: `folder` is 'train' for train/good, 'good' for test/good, or a
 * defect type. The scene and the defect draw from separate streams, so `clean` is the very image
 * the defect was painted on.
 */
export function renderSample(category: string, folder: string, index: number, size: number, seed: number): SynthSample {
  const spec = SYNTH_CATEGORIES[category];
  if (!spec) throw new InputError(`unknown synthetic category '${category}' (known: ${knownCategories()})`);
  const normal = folder === 'train' || folder === 'good';
  if (!normal && !spec.defects.includes(folder)) {
    throw new InputError(`synthetic category '${category}' has no defect type '${folder}'`);
  }
  const stream = `${category}/${folder}/${index}`;
  // the scene's stream keeps the name it had when every category was a texture, so old bytes stay
  const drawn = spec.draw(size, normal ? undefined : folder, streamRng(seed, `${stream}/texture`), streamRng(seed, `${stream}/defect`));
  const clean = toBytes(drawn.clean);
  const benign = drawn.benign ? { benign: drawn.benign } : {};
  if (!drawn.altered || !drawn.mask) return { clean, image: clean, ...benign };
  const image = toBytes(drawn.altered);
  makeMaskExact(clean, image, drawn.mask);
  return { clean, image, mask: drawn.mask, ...benign };
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
