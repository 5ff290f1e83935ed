// The decision threshold of a run (METHOD.md, "Decision threshold"): the lowest probability that keeps
// the false-positive pixel rate of the held-out normal images (split.validationNormals, never the
// evaluation set) at or below a target, --max-fpr. Chosen once, after the last step, from the final
// weights; stored as RUN/threshold.json; predict, eval and export read it back through runThreshold.
// With it, the verdict's region size: one pixel more than the largest region those same images show
// above the threshold at their own size, as predict sees them, so that none of them is NG (runMinArea).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { DEFAULT_RESIZE, type ResizePolicy, imageSize, judgeMask, padBox, readImage, resizeProbabilityFrom, thresholdMask } from '../data/index.js';
import { readRgbNative } from '../data/native.js';
import type { Unet } from '../model/unet.js';
import { InputError, errorMessage } from '../util/errors.js';
import { jsonBytes, writeFileAtomic } from '../util/files.js';
import { predictProbabilities } from './inference.js';
import { type Tiling, cropMap, nativeLogits } from './tiled-predict.js';
import { THRESHOLD_FILE } from '../run/run-folder.js';

export const THRESHOLD_FORMAT = 'gpuseg-threshold/1';
/** What a mask uses when the run chose no threshold (no held-out normal images, an older run, a bare weights file). */
export const DEFAULT_THRESHOLD = 0.5;
/**
 * At most this many held-out normal images choose the threshold: 64 images at 256x256 are 4.2 million
 * pixels (an FPR resolution of 2.4e-7, well below any useful target) and a few seconds of inference.
 */
export const THRESHOLD_IMAGES = 64;
/**
 * With tiles, images are scored whole at their own size (times the scale), as predict runs them, until
 * this many pixels are pooled (at least one image): 16.8 million, 64 MiB of float32 and as much again to
 * sort; 64 images of 20 megapixels would be 5 GiB.
 */
export const TILED_THRESHOLD_PIXELS = 2 ** 24;
/** Images per forward pass while scoring them (the batch predict and eval use). */
const SCORE_BATCH = 4;
/**
 * The largest float32 below 1. Probabilities are float32, and sigmoid saturates to exactly 1 above a
 * logit of about 17: a threshold of 1 would never fire, so the threshold stops just below it.
 */
const BELOW_ONE = 1 - 2 ** -24;

export interface ThresholdAtFpr {
  /** A mask is `p > threshold`. */
  threshold: number;
  /** The achieved false-positive rate: the share of the pixels with p > threshold. */
  fpr: number;
  pixels: number;
}

/**
 * The lowest threshold t in [0, 1) such that the share of all pooled pixels with p > t (strictly) is at
 * most `maxFpr`, with that share. Exact: the pooled scores are sorted, and t is one of them (or 0), so a
 * t equal to a score excludes all its ties; ties can leave the achieved rate below the target. With
 * maxFpr >= 1 every pixel may be positive: t = 0. With maxFpr = 0: t = the largest score.
 *
 * The one case where the returned rate exceeds maxFpr: more than maxFpr of the pixels are exactly 1
 * (saturated float32), which no t below 1 excludes; t is then the largest float32 below 1.
 */
export function thresholdAtFpr(probabilities: Float32Array[], maxFpr: number): ThresholdAtFpr {
  if (!(maxFpr >= 0)) throw new Error(`thresholdAtFpr: maxFpr must be a non-negative number, got ${maxFpr}`);
  const n = probabilities.reduce((sum, p) => sum + p.length, 0);
  if (n === 0) throw new Error('thresholdAtFpr: no pixels');
  const pooled = new Float32Array(n);
  let offset = 0;
  for (const p of probabilities) {
    pooled.set(p, offset);
    offset += p.length;
  }
  for (let i = 0; i < n; i++) {
    if (!(pooled[i]! >= 0 && pooled[i]! <= 1)) throw new Error(`thresholdAtFpr: pixel ${i} has probability ${pooled[i]}, not in [0, 1]`);
  }
  pooled.sort();
  // The most pixels allowed above t: the largest k with k / n <= maxFpr, decided by that very comparison
  // (floor(maxFpr * n) alone is off by one where the product rounds down: 0.29 * 100 = 28.999...).
  let k = Math.min(n, Math.floor(maxFpr * n));
  while (k < n && (k + 1) / n <= maxFpr) k++;
  while (k > 0 && k / n > maxFpr) k--;
  // Sorted ascending, the k pixels above index n - k - 1 are the only ones above its score; any lower t
  // also lets that pixel (and its ties) through: k + 1 or more.
  const threshold = k >= n ? 0 : Math.min(pooled[n - k - 1]!, BELOW_ONE);
  return { threshold, fpr: countAbove(pooled, threshold) / n, pixels: n };
}

/** Pixels of an ascending array scoring strictly above t (a binary search for the first one). */
function countAbove(sorted: Float32Array, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! > t) hi = mid;
    else lo = mid + 1;
  }
  return sorted.length - lo;
}

/** threshold.json. */
export interface ThresholdRecord {
  format: typeof THRESHOLD_FORMAT;
  threshold: number;
  maxFpr: number;
  /** The false-positive pixel rate the threshold achieves on those images. */
  fpr: number;
  /** Held-out normal images scored, and their pixels at the training size. */
  images: number;
  pixels: number;
  /** The training step of the weights it was chosen for. */
  step: number;
  /** The largest 8-connected region above the threshold on those images at their own size, in pixels. */
  normalLargestRegion: number;
  /** predict's default --min-area: normalLargestRegion + 1, so that none of them is NG. */
  minArea: number;
}

/** A held-out normal image's probabilities (width x height) and the size predict writes its map at. */
interface NormalMap {
  map: Float32Array;
  width: number;
  height: number;
  native: { width: number; height: number };
}

/** The largest region above `threshold` among the maps, each brought to its native size as predict does. */
export async function largestRegionAbove(maps: readonly NormalMap[], threshold: number): Promise<number> {
  let largest = 0;
  for (const { map, width, height, native } of maps) {
    const grey = await resizeProbabilityFrom(map, width, height, native.width, native.height);
    largest = Math.max(largest, judgeMask(thresholdMask(grey, threshold), grey, native.width, native.height, 1, 0).score);
  }
  return largest;
}

/** The threshold of `model` on held-out normal images (the first THRESHOLD_IMAGES of `paths`), or null when there are none. */
export async function chooseThreshold<S>(
  model: Unet<S>,
  backend: Backend<S>,
  paths: readonly string[],
  size: number,
  maxFpr: number,
  step: number,
  how: { tiling?: Tiling | null; resize?: ResizePolicy } = {},
): Promise<ThresholdRecord | null> {
  let used = paths.slice(0, THRESHOLD_IMAGES);
  if (used.length === 0) return null;
  const maps: NormalMap[] = [];
  if (how.tiling) {
    let pooled = 0;
    for (const path of used) {
      if (maps.length > 0 && pooled >= TILED_THRESHOLD_PIXELS) break;
      const image = await readRgbNative(path);
      const logits = await nativeLogits(model, backend, image, how.tiling);
      maps.push({ map: Float32Array.from(logits, (l) => 1 / (1 + Math.exp(-l))), width: image.width, height: image.height, native: image });
      pooled += logits.length;
    }
    used = used.slice(0, maps.length);
  }
  for (let start = 0; !how.tiling && start < used.length; start += SCORE_BATCH) {
    const paths = used.slice(start, start + SCORE_BATCH);
    const images = await Promise.all(paths.map((p) => readImage(p, size, how.resize ?? DEFAULT_RESIZE)));
    const scored = await predictProbabilities(model, backend, images, size, SCORE_BATCH);
    for (const [i, p] of paths.entries()) {
      const native = await imageSize(p);
      // Padded, the black bars are no part of the image (predict crops them): their pixels are left out.
      if (how.resize !== 'pad') maps.push({ map: scored[i]!, width: size, height: size, native });
      else {
        const box = padBox(native.width, native.height, size);
        maps.push({ map: cropMap(scored[i]!, size, box), width: box.width, height: box.height, native });
      }
    }
  }
  const { threshold, fpr, pixels } = thresholdAtFpr(maps.map((m) => m.map), maxFpr);
  const normalLargestRegion = await largestRegionAbove(maps, threshold);
  return { format: THRESHOLD_FORMAT, threshold, maxFpr, fpr, images: used.length, pixels, step, normalLargestRegion, minArea: normalLargestRegion + 1 };
}

export type ThresholdEvent = { kind: 'threshold'; threshold: number; maxFpr: number; fpr: number; images: number } | { kind: 'warning'; message: string };

/**
 * The end of a run: chooses its threshold and writes RUN/threshold.json (atomically), or, with no
 * held-out normal images, removes any old one and warns (predict, eval and export then use 0.5).
 */
export async function settleRunThreshold<S>(
  run: { dir: string; model: Unet<S>; backend: Backend<S>; normals: readonly string[]; size: number; maxFpr: number; step: number; tiling?: Tiling | null; resize?: ResizePolicy },
  onEvent: (e: ThresholdEvent) => void,
): Promise<ThresholdRecord | null> {
  const record = await chooseThreshold(run.model, run.backend, run.normals, run.size, run.maxFpr, run.step, run);
  const file = join(run.dir, THRESHOLD_FILE);
  if (!record) {
    await rm(file, { force: true });
    onEvent({ kind: 'warning', message: `no held-out normal images (train/good needs at least 2): no ${THRESHOLD_FILE} written; predict, eval and export use threshold ${DEFAULT_THRESHOLD}` });
    return null;
  }
  await writeFileAtomic(file, jsonBytes(record));
  onEvent({ kind: 'threshold', threshold: record.threshold, maxFpr: record.maxFpr, fpr: record.fpr, images: record.images });
  if (record.fpr > record.maxFpr) {
    onEvent({ kind: 'warning', message: `the threshold ${record.threshold} keeps ${record.fpr} of the held-out normal pixels, more than --max-fpr ${record.maxFpr}: they score exactly 1` });
  }
  return record;
}

export type ThresholdSource = 'threshold.json' | '--threshold' | 'default 0.5';

/** The threshold a mask uses, and where it came from. */
export interface RunThreshold {
  value: number;
  source: ThresholdSource;
}

/** Why `v` is no threshold, or null: a probability from 0 up to (not including) 1. */
export function thresholdProblem(v: unknown): string | null {
  return typeof v === 'number' && v >= 0 && v < 1 ? null : 'a probability from 0 up to (not including) 1';
}

/**
 * The threshold of a run folder: `override` (--threshold) when given, else its threshold.json, else 0.5
 * (a run without held-out normal images or from before thresholds, or `path` a bare weights file).
 */
export async function runThreshold(path: string, override?: number): Promise<RunThreshold> {
  if (override !== undefined) {
    const problem = thresholdProblem(override);
    if (problem) throw new InputError(`--threshold must be ${problem}, got ${override}`);
    return { value: override, source: '--threshold' };
  }
  const record = await readThresholdRecord(path);
  return record ? { value: record.threshold!, source: 'threshold.json' } : { value: DEFAULT_THRESHOLD, source: 'default 0.5' };
}

/**
 * predict's default --min-area from a run folder's threshold.json: null without one, or for a file from
 * before it was recorded (then 1: any region makes an image NG).
 */
export async function runMinArea(path: string): Promise<number | null> {
  const record = await readThresholdRecord(path);
  if (!record || record.minArea === undefined) return null;
  if (!Number.isSafeInteger(record.minArea) || record.minArea < 1) {
    throw new InputError(`${join(path, THRESHOLD_FILE)}: 'minArea' must be a positive integer, got ${JSON.stringify(record.minArea)}`);
  }
  return record.minArea;
}

/** RUN/threshold.json, checked (format and threshold), or null when there is none (or `path` is a file). */
async function readThresholdRecord(path: string): Promise<Partial<ThresholdRecord> | null> {
  const file = join(path, THRESHOLD_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new InputError(`${file}: cannot read (${errorMessage(err)})`);
  }
  let record: Partial<ThresholdRecord>;
  try {
    record = JSON.parse(text) as Partial<ThresholdRecord>;
  } catch {
    throw new InputError(`${file}: not JSON`);
  }
  if (record?.format !== THRESHOLD_FORMAT) throw new InputError(`${file}: format ${JSON.stringify(record?.format)}, expected '${THRESHOLD_FORMAT}'`);
  const problem = thresholdProblem(record.threshold);
  if (problem) throw new InputError(`${file}: 'threshold' must be ${problem}, got ${JSON.stringify(record.threshold)}`);
  return record;
}

/** A run's threshold as a chosen record says it (null: none was chosen, the default). */
export function recordedThreshold(record: ThresholdRecord | null): RunThreshold {
  return record ? { value: record.threshold, source: 'threshold.json' } : { value: DEFAULT_THRESHOLD, source: 'default 0.5' };
}
