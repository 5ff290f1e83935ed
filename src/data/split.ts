// The k-shot protocol: k annotated images per defect type, drawn with a seed, are the only annotated
// training images; every other test image is evaluated. train/good is the normal pool, less a small
// held-out slice on which training logs its false-positive rate.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import { rng, type Rng } from '../util/random.js';
import type { Category, DefectSample } from './mvtec.js';
import { InputError } from '../util/errors.js';

export interface Split {
  shots: DefectSample[];
  evalDefects: DefectSample[];
  evalGood: string[];
  normals: string[];
  validationNormals: string[];
}

/** What a split was drawn from; stored beside it so a run can be traced back. */
export interface SplitMeta {
  category: string;
  shots: number;
  splitSeed: number;
  /** The category folder the paths lie in (so that an evaluation can move them to another copy of it). */
  root?: string;
}

/** Share of train/good held out for validation, with at least one image once there are two. */
export const VALIDATION_FRACTION = 0.1;
const SPLIT_FORMAT = 'gpuseg-split/1';
/** Names the random stream of the validation draw, apart from every defect type's stream. */
const VALIDATION_STREAM = '\u0000validation';

/** FNV-1a over UTF-16 code units: a stable 32-bit hash of a name on every platform. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A generator per (seed, stream name): each defect type draws from its own stream, so adding or
 * removing a type leaves the other types' shots unchanged (synth.ts names its streams the same way).
 */
export function streamRng(seed: number, stream: string): Rng {
  return rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ hashName(stream)) >>> 0);
}

/** Fisher-Yates on a copy. Integer draws from mulberry32 make the order the same on every platform. */
function shuffled<T>(items: readonly T[], r: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function validationCount(normals: number): number {
  if (normals < 2) return 0;
  return Math.max(1, Math.round(normals * VALIDATION_FRACTION));
}

/**
 * Draws `shots` annotated images per defect type. Because the draw is a prefix of one seeded shuffle
 * per type, the 1-shot images of a seed are among its 5-shot images.
 */
export function kShotSplit(category: Category, shots: number, splitSeed: number): Split {
  if (!Number.isInteger(shots) || shots <= 0) throw new InputError(`shots must be a positive integer, got ${shots}`);
  if (!Number.isInteger(splitSeed)) throw new InputError(`split seed must be an integer, got ${splitSeed}`);

  const byType = new Map<string, DefectSample[]>();
  for (const sample of category.defects) {
    const list = byType.get(sample.type) ?? [];
    list.push(sample);
    byType.set(sample.type, list);
  }
  const chosen = new Set<DefectSample>();
  const shotList: DefectSample[] = [];
  for (const [type, samples] of byType) {
    if (samples.length < shots + 1) {
      throw new InputError(
        `defect type '${type}' of '${category.name}' has ${samples.length} image(s); ${shots}-shot needs at ` +
          `least ${shots + 1} (the shots plus one to evaluate)`,
      );
    }
    for (const sample of shuffled(samples, streamRng(splitSeed, type)).slice(0, shots)) {
      chosen.add(sample);
      shotList.push(sample);
    }
  }

  const held = new Set(
    shuffled(category.trainGood, streamRng(splitSeed, VALIDATION_STREAM)).slice(
      0,
      validationCount(category.trainGood.length),
    ),
  );
  return {
    shots: shotList,
    evalDefects: category.defects.filter((s) => !chosen.has(s)),
    evalGood: category.testGood.slice(),
    normals: category.trainGood.filter((p) => !held.has(p)),
    validationNormals: category.trainGood.filter((p) => held.has(p)),
  };
}

// ---- JSON on disk: paths relative to the split file's folder, with '/' separators, so the file
// stays valid when the data set and the file move together or change platform.

function toStored(base: string, path: string): string {
  return relative(base, resolve(path)).split(sep).join('/');
}

function fromStored(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, ...path.split('/'));
}

interface StoredSplit {
  format: string;
  meta: SplitMeta;
  split: Split;
}

function mapPaths(split: Split, f: (path: string) => string): Split {
  const sample = (s: DefectSample): DefectSample => ({ type: s.type, image: f(s.image), mask: f(s.mask) });
  return {
    shots: split.shots.map(sample),
    evalDefects: split.evalDefects.map(sample),
    evalGood: split.evalGood.map(f),
    normals: split.normals.map(f),
    validationNormals: split.validationNormals.map(f),
  };
}

export async function writeSplit(path: string, split: Split, meta: SplitMeta): Promise<void> {
  const base = dirname(resolve(path));
  const storedMeta = meta.root === undefined ? meta : { ...meta, root: toStored(base, meta.root) };
  const stored: StoredSplit = { format: SPLIT_FORMAT, meta: storedMeta, split: mapPaths(split, (p) => toStored(base, p)) };
  await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(stored, null, 2)}\n`));
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isSampleArray(value: unknown): value is DefectSample[] {
  return (
    Array.isArray(value) &&
    value.every(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof v.type === 'string' &&
        typeof v.image === 'string' &&
        typeof v.mask === 'string',
    )
  );
}

/** Reads a split written by writeSplit; paths come back resolved (absolute). */
export async function readSplit(path: string): Promise<{ split: Split; meta: SplitMeta }> {
  let stored: Partial<StoredSplit>;
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as Partial<StoredSplit>;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InputError(`cannot read split '${path}': ${reason}`);
  }
  const s = stored.split;
  const valid =
    stored.format === SPLIT_FORMAT &&
    typeof stored.meta === 'object' &&
    stored.meta !== null &&
    typeof s === 'object' &&
    s !== null &&
    isSampleArray(s.shots) &&
    isSampleArray(s.evalDefects) &&
    isStringArray(s.evalGood) &&
    isStringArray(s.normals) &&
    isStringArray(s.validationNormals);
  if (!valid) throw new InputError(`cannot read split '${path}': not a ${SPLIT_FORMAT} file`);
  const base = dirname(resolve(path));
  const meta = stored.meta!;
  const root = typeof meta.root === 'string' ? fromStored(base, meta.root) : undefined;
  return { split: mapPaths(s, (p) => fromStored(base, p)), meta: root === undefined ? meta : { ...meta, root } };
}
