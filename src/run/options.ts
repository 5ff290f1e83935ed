// The options of a training run, their defaults (METHOD.md: the full method) and their checks, and
// the config.json that records every value a run used.
import type { PasteMode, ResizePolicy } from '../data/index.js';
import { unetInputProblem } from '../model/unet.js';
import type { DeviceKind } from '../backend/open.js';
import { InputError } from '../util/errors.js';

export type NbrLayer = 2 | 3;

// The choices of the method's parts, here so that the run's options (this floor) name them and the
// training code above (train/cells.ts, losses.ts, step.ts) takes them from here.
/** The segmentation loss: BCE, or BCE plus soft Dice. */
export type LossKind = 'bce' | 'bce+dice';
/**
 * The background term over all of a normal image's pixels, over its hardest `bgTop` share, or (hinge)
 * only on how far its logits rise above the logit of probability HINGE_PROBABILITY (both ours).
 */
export type BgLoss = 'mean' | 'hard' | 'hinge';
/** How a feature cell is labelled from a mask (train/cells.ts): any defect pixel, or a share of them (ours). */
export type CellLabels = 'any' | 'fraction';
/** Which features the NBR terms and paste weights read: after the layer's last ReLU, or before it (ours). */
export type NbrFeatures = 'relu' | 'pre';
/** Normal images through the network with the annotated samples, or apart (their own batch statistics). */
export type NormalBn = 'joint' | 'separate';
/** Where crop-and-paste samples go: in the batch's annotated slots beside the shots, or on top of them. */
export type PasteSlots = 'shared' | 'extra';

export interface TrainOptions {
  /** A category folder in the MVTec AD layout. */
  data: string;
  /** The run folder: checkpoints, config, split, log, evaluation, report. */
  out: string;
  shots?: number;
  splitSeed?: number;
  seed?: number;
  /** The model's input size; with `tile`, the tile (leave it out or give the same). */
  size?: number;
  /**
   * Train on tile x tile crops of the images at their own pixels times `scale` instead of whole images
   * squeezed to `size` (a multiple of 32); predict and eval then run in tiles too (config.json).
   */
  tile?: number;
  /** With `tile`: the images' scale before cutting, in (0, 1] (default 1, their own pixels). */
  scale?: number;
  /** Without `tile`: how a non-square image becomes size x size (decode.ts: 'stretch' or 'pad'). */
  resize?: ResizePolicy;
  batch?: number;
  steps?: number;
  lr?: number;
  loss?: LossKind;
  device?: DeviceKind;
  adapter?: string;
  encoderWeights?: string;
  /** Steps between checkpoints (and at the end). */
  checkpointEvery?: number;
  /** Steps between false-positive-rate checks on held-out normal images (0: never). */
  validateEvery?: number;
  /** The false-positive pixel rate on held-out normal images that the run's decision threshold keeps (evaluate/threshold.ts). */
  maxFpr?: number;
  /** The NBR loss (background and feature terms). */
  nbr?: boolean;
  cropPaste?: boolean;
  /** Similarity weights of crop-and-paste samples (else 1 throughout). */
  weighting?: boolean;
  lambdaBg?: number;
  lambdaFeat?: number;
  /** The encoder layer of the feature term and of the paste weights: 2 (stride 8) or 3 (stride 16). */
  nbrLayer?: NbrLayer;
  paste?: PasteMode;
  /** Crop-and-paste samples in the annotated slots beside the shots (shared), or on top of a batch of shots (extra, ours). */
  pasteSlots?: PasteSlots;
  /** Normal images per batch, on top of the `batch` annotated samples; default half the batch with NBR, none without. */
  normalPerBatch?: number;
  /** The features of the NBR terms and paste weights: after the layer's last ReLU, or before it. */
  nbrFeatures?: NbrFeatures;
  /** How the feature term labels cells: any defect pixel, or by defect fraction with a border left out. */
  cellLabels?: CellLabels;
  /** Share of the steps over which lambda_feat rises linearly from 0 (0: full weight from the start). */
  featRampup?: number;
  /**
   * Share of the steps before the background term starts (ours: the shots are learned first; until then
   * the normal images pass through the network with weight 0). 0: from the first step.
   */
  bgStart?: number;
  /** The background term over all pixels of a normal image, or over its hardest `bgTop` share. */
  bgLoss?: BgLoss;
  bgTop?: number;
  /** Normal images through the network with the annotated samples, or apart. */
  normalBn?: NormalBn;
  /** Normal images with a synthetic anomaly per batch, on top of the annotated samples. */
  synthetic?: number;
  /**
   * Share of the steps at the start whose annotated slots all hold synthetic anomalies on normal images
   * instead of shots and pastes (ours: a first phase that teaches the network what normal looks like).
   */
  syntheticPhase?: number;
  /** Evaluate the final weights on the split's evaluation set and write eval.json (default true). */
  evaluate?: boolean;
  /** Write Adam's state (optimizer.safetensors) with each checkpoint, for resuming (default true). */
  optimizerState?: boolean;
  /** Replace the run already in `out` (else a folder holding a run is refused). */
  overwrite?: boolean;
  /** Continue the run in `out` from its last checkpoint, with the settings its config.json records. */
  resume?: boolean;
}

/** The settings a run records and a resumed run takes back (the rest of TrainOptions is per invocation). */
export const RECORDED = [
  'data', 'shots', 'splitSeed', 'seed', 'size', 'tile', 'scale', 'resize', 'batch', 'steps', 'lr', 'loss', 'nbr', 'cropPaste', 'weighting', 'lambdaBg',
  'lambdaFeat', 'nbrLayer', 'paste', 'pasteSlots', 'normalPerBatch', 'nbrFeatures', 'cellLabels', 'featRampup', 'bgStart', 'bgLoss', 'bgTop', 'normalBn', 'synthetic', 'syntheticPhase', 'encoderWeights', 'checkpointEvery', 'validateEvery', 'maxFpr', 'evaluate', 'optimizerState',
] as const satisfies readonly (keyof TrainOptions)[];
/** Recorded settings that runs from before them lack: absent, they take their default. */
export const LATER_RECORDED: ReadonlySet<string> = new Set(['tile', 'scale', 'resize', 'bgStart', 'pasteSlots']);

export const TRAIN_DEFAULTS = {
  shots: 1,
  splitSeed: 0,
  seed: 0,
  size: 256,
  resize: 'stretch' as ResizePolicy,
  batch: 8,
  steps: 2000,
  lr: 1e-4,
  loss: 'bce' as LossKind,
  device: 'gpu' as DeviceKind,
  checkpointEvery: 200,
  validateEvery: 100,
  // Measured on the development runs (docs/results.md, "The decision threshold"): the lower the target,
  // the higher the defect IoU, 0 best on every run and 5e-5 within 0.02 of it; 5e-5 leaves a few
  // outlier pixels of the held-out normals (4 of 81,920 at 64x64) from setting the threshold alone.
  maxFpr: 0.00005,
  nbr: true,
  cropPaste: true,
  weighting: true,
  lambdaBg: 1.0,
  lambdaFeat: 0.1,
  nbrLayer: 2 as NbrLayer,
  paste: 'anywhere' as PasteMode,
  pasteSlots: 'shared' as PasteSlots,
  nbrFeatures: 'relu' as NbrFeatures,
  cellLabels: 'any' as CellLabels,
  featRampup: 0,
  bgStart: 0,
  bgLoss: 'mean' as BgLoss,
  bgTop: 0.05,
  normalBn: 'joint' as NormalBn,
  synthetic: 0,
  syntheticPhase: 0,
  evaluate: true,
  optimizerState: true,
};

/** Share of the steps at the start during which paste weights are 1 (an untrained encoder's similarities are noise). */
export const WEIGHTING_WARMUP = 0.1;
/** Pixels per feature cell at each NBR layer. */
export const LAYER_STRIDE: Record<NbrLayer, number> = { 2: 8, 3: 16 };

export type ResolvedOptions = typeof TRAIN_DEFAULTS & TrainOptions & { normalPerBatch: number };

/** Defaults filled in and every value checked, with errors that name the flag. */
export function resolveOptions(options: TrainOptions): ResolvedOptions {
  const o = { ...TRAIN_DEFAULTS, ...dropUndefined(options), ...tileSettings(options) } as typeof TRAIN_DEFAULTS & TrainOptions;
  const normalPerBatch = o.normalPerBatch ?? (o.nbr ? Math.floor(o.batch / 2) : 0);
  const r = { ...o, normalPerBatch };
  check(r);
  return r;
}

/** The UNet halves its input five times. */
const SIZE_MULTIPLE = 32;

/**
 * With a tile, the model trains at the tile's size: `size` becomes the tile (a --size that differs is
 * refused rather than ignored) and `scale` defaults to 1. Without one, --scale has nothing to scale.
 */
function tileSettings(o: TrainOptions): Partial<TrainOptions> {
  const tile = o.tile ?? undefined;
  const scale = o.scale ?? undefined;
  if (tile === undefined) {
    if (scale !== undefined) throw new InputError('--scale applies to training on tiles: give --tile too');
    return { tile: undefined, scale: undefined };
  }
  if (!Number.isInteger(tile) || tile < SIZE_MULTIPLE || tile % SIZE_MULTIPLE !== 0 || tile > LIMITS.size) {
    throw new InputError(`--tile must be a multiple of ${SIZE_MULTIPLE} from ${SIZE_MULTIPLE} to ${LIMITS.size}, got ${tile}`);
  }
  if (o.size !== undefined && o.size !== tile) throw new InputError(`--size ${o.size} with --tile ${tile}: on tiles the model trains at the tile's size (leave --size out)`);
  if (scale !== undefined && !(scale > 0 && scale <= 1)) throw new InputError(`--scale must be a number above 0 and at most 1, got ${scale}`);
  if (o.resize === 'pad') throw new InputError('--resize pad squeezes whole images; with --tile the images are cut at their own pixels (leave --resize out)');
  return { size: tile, tile, scale: scale ?? 1 };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Upper bounds that catch a typo before it allocates: a 2048x2048 batch of 8 already needs about 40 GiB
 * of activations, and ten million steps are years on any GPU we know.
 */
export const LIMITS = { size: 2048, batch: 512, steps: 10_000_000, checkpointEvery: 10_000_000, shots: 10_000 } as const;

/** The options that take one of a few words, with those words (the flag is the option's kebab name). */
export const CHOICES = {
  loss: ['bce', 'bce+dice'],
  device: ['gpu', 'cpu'],
  paste: ['anywhere', 'near', 'matched'],
  pasteSlots: ['shared', 'extra'],
  nbrFeatures: ['relu', 'pre'],
  cellLabels: ['any', 'fraction'],
  bgLoss: ['mean', 'hard', 'hinge'],
  normalBn: ['joint', 'separate'],
  resize: ['stretch', 'pad'],
} as const;

function check(o: ResolvedOptions): void {
  const positive = { shots: o.shots, size: o.size, batch: o.batch, steps: o.steps, checkpointEvery: o.checkpointEvery };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v <= 0) throw new InputError(`--${kebab(name)} must be a positive integer, got ${v}`);
    const max = LIMITS[name as keyof typeof LIMITS];
    if (v > max) throw new InputError(`--${kebab(name)} ${v} is more than ${max}, the most gpuseg accepts`);
  }
  const problem = unetInputProblem(o.batch + o.normalPerBatch + o.synthetic, o.size);
  if (problem) throw new InputError(problem);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new InputError(`--lr must be a positive number, got ${o.lr}`);
  for (const [name, v] of Object.entries({ lambdaBg: o.lambdaBg, lambdaFeat: o.lambdaFeat })) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new InputError(`--${kebab(name)} must be a non-negative number, got ${v}`);
  }
  for (const [name, words] of Object.entries(CHOICES)) {
    const v = o[name as keyof typeof CHOICES];
    if (!(words as readonly string[]).includes(v)) throw new InputError(`--${kebab(name)} must be ${words.join(' or ')}, got '${v}'`);
  }
  if (o.nbrLayer !== 2 && o.nbrLayer !== 3) throw new InputError(`--nbr-layer must be 2 or 3, got ${o.nbrLayer}`);
  for (const [name, v] of Object.entries({ normalPerBatch: o.normalPerBatch, synthetic: o.synthetic })) {
    if (!Number.isInteger(v) || v < 0 || v > LIMITS.batch) throw new InputError(`--${kebab(name)} must be an integer from 0 to ${LIMITS.batch}, got ${v}`);
  }
  if (!(o.featRampup >= 0 && o.featRampup <= 1)) throw new InputError(`--feat-rampup must be a share of the steps from 0 to 1, got ${o.featRampup}`);
  if (!(o.bgStart >= 0 && o.bgStart < 1)) throw new InputError(`--bg-start must be a share of the steps from 0 up to (not including) 1, got ${o.bgStart}`);
  if (!(o.syntheticPhase >= 0 && o.syntheticPhase < 1)) throw new InputError(`--synthetic-phase must be a share of the steps from 0 up to (not including) 1, got ${o.syntheticPhase}`);
  if (!(o.bgTop > 0 && o.bgTop <= 1)) throw new InputError(`--bg-top must be a share of the pixels above 0 and at most 1, got ${o.bgTop}`);
  if (!(o.maxFpr >= 0 && o.maxFpr < 1)) throw new InputError(`--max-fpr must be a rate from 0 up to (not including) 1, got ${o.maxFpr}`);
  if (!o.nbr && o.normalPerBatch > 0) {
    throw new InputError(`--normal-per-batch ${o.normalPerBatch} with --no-nbr: normal images in a batch have no loss without NBR`);
  }
}

/** The command-line flag of an option: normalPerBatch -> normal-per-batch. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
