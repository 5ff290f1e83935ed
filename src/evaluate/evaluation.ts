// Evaluation to the field's conventions (METHOD.md): on the evaluation set of a run's split, from the
// weights given (a run's final ones: no model selection on the evaluation set), pixel metrics pooled
// over all its pixels, per defect type and overall; and a record per image (its IoU, worst first) for
// the report. Written into the run folder as eval.json and eval/<rank>_prob.png.
import { mkdir, rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { DEFAULT_RESIZE, type ResizePolicy, imageSize, padBox, readImage, readMask, readSplit, writePng } from '../data/index.js';
import type { Unet } from '../model/unet.js';
import { writeFileAtomic } from '../util/files.js';
import { readMaskAt, readRgbNative } from '../data/native.js';
import { predictLogits } from './inference.js';
import { type InferencePath, type Tiling, cropMap, inferencePath, nativeLogits, probabilityBytes } from './tiled-predict.js';
import { MetricAccumulator, type PixelMetrics, type ThresholdMetrics } from './metrics.js';
import { DEFAULT_THRESHOLD, type RunThreshold } from './threshold.js';
import { EVAL_FILE, EVAL_IMAGES_DIR, SPLIT_FILE } from '../run/run-folder.js';
import { InputError } from '../util/errors.js';

export const EVAL_FORMAT = 'gpuseg-eval/1';
/** Probability maps kept for the report's grid, worst first. */
const REPORT_IMAGES = 24;
/** The field's threshold (METHOD.md), of every metric in `overall` and `perType`. */
const THRESHOLD = DEFAULT_THRESHOLD;
const PRO_FPR_LIMIT = 0.3;

export interface LabelledImage {
  image: string;
  /** null: a defect-free image (all background). */
  mask: string | null;
  type: string;
}

export interface ImageRecord extends LabelledImage {
  /** Defect IoU of this image at the threshold; null for a defect-free image. */
  iou: number | null;
  defectPixels: number;
  predictedPixels: number;
  /** The probability map written for the report (a path in the run folder), or null. */
  probability: string | null;
}

export interface EvaluationResult {
  format: typeof EVAL_FORMAT;
  size: number;
  /** Images squeezed to size x size, or at their own size in tiles (metrics against native masks); absent in older eval.json files. */
  inference?: InferencePath;
  threshold: number;
  proFprLimit: number;
  pooling: string;
  overall: PixelMetrics;
  /** Per defect type, over that type's images only (defect-free images count in `overall`). */
  perType: Record<string, PixelMetrics>;
  /** The metrics of a threshold at the run's own decision threshold (threshold.json, --threshold or 0.5); absent in older eval.json files. */
  runThreshold?: RunThreshold & { overall: ThresholdMetrics; perType: Record<string, ThresholdMetrics> };
  /** Worst first: defect images by ascending IoU, then defect-free ones by descending false alarms. */
  images: ImageRecord[];
  /** The training step of the weights evaluated (below the run's steps for a run that did not finish); absent in older eval.json files. */
  step?: number;
}

/** The run's evaluation set (split.json): every non-shot defect image and test/good. With `dataDir`,
 * the same files in another copy of the category folder. */
export async function evaluationItems(runDir: string, dataDir?: string): Promise<LabelledImage[]> {
  const splitPath = join(runDir, SPLIT_FILE);
  const { split, meta } = await readSplit(splitPath);
  let move = (p: string) => p;
  if (dataDir !== undefined) {
    if (meta.root === undefined) throw new InputError(`${splitPath} does not record its category folder, so --data cannot move it`);
    const root = meta.root;
    move = (p) => join(dataDir, relative(root, p));
  }
  const items = [
    ...split.evalDefects.map((d) => ({ image: move(d.image), mask: move(d.mask), type: d.type })),
    ...split.evalGood.map((image) => ({ image: move(image), mask: null, type: 'good' })),
  ];
  if (items.length === 0) throw new InputError(`${splitPath}: the evaluation set is empty`);
  return items;
}

/** An 8-bit probability map for the report, at the size it was measured. */
export interface ProbabilityMap {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Metrics of `model` (in eval mode) on the items, at 0.5 and at the run's threshold (compared as a logit:
 * a pixel within float32 rounding of it may fall on the other side than its float32 probability would).
 * Without `tiling`, at the model's size (masks resized by nearest neighbour); with it, at each image's own
 * size in tiles, against the masks at that size (MVTec AD's protocol), one image at a time.
 */
export async function evaluate<S>(
  model: Unet<S>,
  backend: Backend<S>,
  items: LabelledImage[],
  size: number,
  onProgress: (done: number, total: number) => void = () => {},
  batch = 4,
  runThreshold: RunThreshold = { value: DEFAULT_THRESHOLD, source: 'default 0.5' },
  tiling: Tiling | null = null,
  resize: ResizePolicy = DEFAULT_RESIZE,
): Promise<EvaluationResult & { maps: ProbabilityMap[] }> {
  const overall = new MetricAccumulator({ threshold: THRESHOLD, proFprLimit: PRO_FPR_LIMIT });
  const perType = new Map<string, MetricAccumulator>();
  const records: (ImageRecord & { map: ProbabilityMap })[] = [];
  const measure = (it: LabelledImage, logits: Float32Array, mask: Uint8Array, width: number, height: number) => {
    overall.add(logits, mask, width, height);
    if (it.mask) {
      let acc = perType.get(it.type);
      if (!acc) perType.set(it.type, (acc = new MetricAccumulator({ threshold: THRESHOLD, proFprLimit: PRO_FPR_LIMIT })));
      acc.add(logits, mask, width, height);
    }
    records.push({ ...it, ...imageScores(logits, mask, !!it.mask), probability: null, map: { data: probabilityBytes(logits), width, height } });
  };
  if (tiling) {
    for (const [i, it] of items.entries()) {
      const image = await readRgbNative(it.image);
      const { width, height } = image;
      const mask = it.mask ? await readMaskAt(it.mask, width, height) : new Uint8Array(width * height);
      measure(it, await nativeLogits(model, backend, image, tiling), mask, width, height);
      onProgress(i + 1, items.length);
    }
  }
  for (let start = 0; !tiling && start < items.length; start += batch) {
    const chunk = items.slice(start, start + batch);
    const images = await Promise.all(chunk.map((it) => readImage(it.image, size, resize)));
    const masks = await Promise.all(chunk.map((it) => (it.mask ? readMask(it.mask, size, resize) : Promise.resolve(new Uint8Array(size * size)))));
    const logits = await predictLogits(model, backend, images, size, batch);
    // Padded, the black bars are no part of the image: measured without them, as predict crops them.
    const boxes = await Promise.all(chunk.map(async (it) => (resize === 'pad' ? imageSize(it.image).then(({ width, height }) => padBox(width, height, size)) : null)));
    chunk.forEach((it, i) => {
      const box = boxes[i];
      if (!box) measure(it, logits[i]!, masks[i]!, size, size);
      else measure(it, cropMap(logits[i]!, size, box), cropMap(masks[i]!, size, box), box.width, box.height);
    });
    onProgress(Math.min(items.length, start + batch), items.length);
  }
  records.sort(worstFirst);
  const types = [...perType].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    format: EVAL_FORMAT,
    size,
    inference: inferencePath(size, tiling, resize),
    threshold: THRESHOLD,
    proFprLimit: PRO_FPR_LIMIT,
    pooling: 'pixels pooled over all images of the evaluation set',
    overall: overall.result(),
    perType: Object.fromEntries(types.map(([t, a]) => [t, a.result()])),
    runThreshold: {
      ...runThreshold,
      overall: overall.atThreshold(runThreshold.value),
      perType: Object.fromEntries(types.map(([t, a]) => [t, a.atThreshold(runThreshold.value)])),
    },
    images: records.map(({ map: _, ...r }) => r),
    maps: records.map((r) => r.map),
  };
}

/** IoU and pixel counts of one image at the threshold (probability > 0.5 is logit > 0). */
function imageScores(logits: ArrayLike<number>, mask: Uint8Array, labelled: boolean) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < mask.length; i++) {
    const predicted = logits[i]! > 0;
    if (mask[i]) predicted ? tp++ : fn++;
    else if (predicted) fp++;
  }
  const union = tp + fp + fn;
  return { iou: labelled && union > 0 ? tp / union : null, defectPixels: tp + fn, predictedPixels: tp + fp };
}

function worstFirst(a: ImageRecord, b: ImageRecord): number {
  if ((a.iou === null) !== (b.iou === null)) return a.iou === null ? 1 : -1;
  if (a.iou !== null && b.iou !== null && a.iou !== b.iou) return a.iou - b.iou;
  return b.predictedPixels - a.predictedPixels;
}

/**
 * Writes RUN/eval.json and the probability maps of the worst REPORT_IMAGES images; returns what it
 * wrote (paths relative to RUN).
 */
export async function writeEvaluation(runDir: string, result: EvaluationResult & { maps?: ProbabilityMap[] }): Promise<EvaluationResult> {
  const { maps, ...stored } = result;
  const dir = join(runDir, EVAL_IMAGES_DIR);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const base = resolve(runDir);
  const rel = (p: string) => relative(base, resolve(p)).split(sep).join('/');
  const images: ImageRecord[] = [];
  for (const [i, r] of stored.images.entries()) {
    let probability: string | null = null;
    if (maps && i < REPORT_IMAGES) {
      probability = `${EVAL_IMAGES_DIR}/${String(i).padStart(3, '0')}_prob.png`;
      const { data, width, height } = maps[i]!;
      await writePng(join(runDir, probability), data, width, height, 1);
    }
    images.push({ ...r, image: rel(r.image), mask: r.mask === null ? null : rel(r.mask), probability });
  }
  const written = { ...stored, images };
  await writeFileAtomic(join(runDir, EVAL_FILE), new TextEncoder().encode(`${JSON.stringify(written, null, 1)}\n`));
  return written;
}
