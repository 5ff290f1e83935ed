// What a run reads before its first step: the shots, the pool of normal images (through the cache) and
// the held-out normal images of --validate-every, either as whole images squeezed to the training size
// (by the run's resize policy) or, with --tile, at their own pixels times --scale for tiles to be cut.
import type { Backend } from '../backend/backend.js';
import { type ImageCache, type Split, bytesToRgb, readImage, readMask } from '../data/index.js';
import { readMaskAt, readRgbScaled } from '../data/native.js';
import type { Unet } from '../model/unet.js';
import { rng } from '../util/random.js';
import type { BatchSources, Sample } from './batch.js';
import { predictProbabilities } from '../evaluate/inference.js';
import type { ResolvedOptions } from '../run/options.js';
import { anywhere, cutBytes, tileShot, tileSources } from './tile-samples.js';

/** At most this many held-out normal images are scored per validation. */
const VALIDATION_IMAGES = 8;
/** Decodes in flight while the normal pool is read ahead. */
const IN_FLIGHT = 16;

export interface TrainingData {
  sources: BatchSources;
  shotCount: number;
  /** Held-out normal images for --validate-every, size x size RGB in [0, 1]. */
  validation: Float32Array[];
}

type Reading = (e: { kind: 'reading'; done: number; total: number }) => void;

export async function trainingData(o: ResolvedOptions, split: Split, normals: string[], images: ImageCache, onProgress: Reading): Promise<TrainingData> {
  const validationPaths = split.validationNormals.slice(0, VALIDATION_IMAGES);
  if (o.tile === undefined) {
    const shots = await loadSamples(split.shots, o.size, o.resize);
    await readAll(normals, (p) => images.get(p, o.size, o.resize), normals.length * o.size * o.size * 3 <= images.budgetBytes, onProgress);
    const validation = await Promise.all(validationPaths.map((p) => readImage(p, o.size, o.resize)));
    return { sources: { shots, normalCount: normals.length, normal: (i) => images.get(normals[i]!, o.size, o.resize) }, shotCount: shots.length, validation };
  }
  const { tile } = o;
  const scale = o.scale ?? 1;
  // Shots are few: held at the training scale for the whole run.
  const shots = await Promise.all(
    split.shots.map(async (it) => {
      const image = await readRgbScaled(it.image, scale);
      return tileShot(image, await readMaskAt(it.mask, image.width, image.height));
    }),
  );
  // Read ahead while the cache's budget lasts (sizes are known only once decoded); the rest on draw.
  await readAll(normals, (p) => images.getScaled(p, scale), () => images.heldBytes < images.budgetBytes, onProgress);
  const sources: BatchSources = {
    shots: [],
    normalCount: normals.length,
    normal: () => Promise.reject(new Error('training on tiles cuts normal images through sources.tiles')),
    tiles: tileSources(shots, (i) => images.getScaled(normals[i]!, scale), tile),
  };
  // Validation on one tile of each held-out image (not the tiled whole, to keep it quick), placed once
  // from a stream of its own: the same tiles at every validation, and the batches' stream untouched.
  const place = rng(o.seed + 2);
  const validation = await Promise.all(
    validationPaths.map(async (p) => {
      const { data, width, height } = await readRgbScaled(p, scale);
      return bytesToRgb(cutBytes(data, width, height, 3, anywhere(width, tile, place()), anywhere(height, tile, place()), tile));
    }),
  );
  return { sources, shotCount: shots.length, validation };
}

async function loadSamples(items: { image: string; mask: string }[], size: number, resize: ResolvedOptions['resize']): Promise<Sample[]> {
  return Promise.all(items.map(async (it) => ({ image: await readImage(it.image, size, resize), mask: await readMask(it.mask, size, resize) })));
}

/**
 * Decodes the normal images once, before the first step, while `fits` (the first steps would otherwise
 * wait for decodes, and a bad file is found now rather than at step 1,500).
 */
async function readAll(paths: string[], get: (path: string) => Promise<unknown>, fits: boolean | (() => boolean), onProgress: Reading): Promise<void> {
  const more = typeof fits === 'function' ? fits : () => fits;
  for (let start = 0; start < paths.length && more(); start += IN_FLIGHT) {
    await Promise.all(paths.slice(start, start + IN_FLIGHT).map(get));
    onProgress({ kind: 'reading', done: Math.min(paths.length, start + IN_FLIGHT), total: paths.length });
  }
}

/** The share of pixels above 0.5 over the validation images. */
export async function falsePositiveRate<S>(model: Unet<S>, backend: Backend<S>, images: Float32Array[], size: number): Promise<number> {
  const probs = await predictProbabilities(model, backend, images, size);
  let positive = 0;
  let total = 0;
  for (const p of probs) {
    for (let i = 0; i < p.length; i++) if (p[i]! > 0.5) positive++;
    total += p.length;
  }
  return positive / total;
}
