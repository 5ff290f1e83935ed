// The options of a training run, their defaults (METHOD.md: the full method) and their checks, and
// the config.json that records every value a run used.
import type { PasteMode } from '../data/index.js';
import { unetInputProblem } from '../model/unet.js';
import type { DeviceKind } from './device.js';
import type { LossKind } from './losses.js';
import { InputError } from '../util/errors.js';

export type NbrLayer = 2 | 3;

export interface TrainOptions {
  /** A category folder in the MVTec AD layout. */
  data: string;
  /** The run folder: checkpoints, config, split, log, evaluation, report. */
  out: string;
  shots?: number;
  splitSeed?: number;
  seed?: number;
  size?: number;
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
  /** Normal images per batch; default half the batch with NBR, none without. */
  normalPerBatch?: number;
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
const RECORDED = [
  'data', 'shots', 'splitSeed', 'seed', 'size', 'batch', 'steps', 'lr', 'loss', 'nbr', 'cropPaste', 'weighting', 'lambdaBg',
  'lambdaFeat', 'nbrLayer', 'paste', 'normalPerBatch', 'encoderWeights', 'checkpointEvery', 'validateEvery', 'evaluate', 'optimizerState',
] as const satisfies readonly (keyof TrainOptions)[];

export const TRAIN_DEFAULTS = {
  shots: 1,
  splitSeed: 0,
  seed: 0,
  size: 256,
  batch: 8,
  steps: 2000,
  lr: 1e-4,
  loss: 'bce' as LossKind,
  device: 'gpu' as DeviceKind,
  checkpointEvery: 200,
  validateEvery: 100,
  nbr: true,
  cropPaste: true,
  weighting: true,
  lambdaBg: 1.0,
  lambdaFeat: 0.1,
  nbrLayer: 2 as NbrLayer,
  paste: 'anywhere' as PasteMode,
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
  const o = { ...TRAIN_DEFAULTS, ...dropUndefined(options) } as typeof TRAIN_DEFAULTS & TrainOptions;
  const normalPerBatch = o.normalPerBatch ?? (o.nbr ? Math.floor(o.batch / 2) : 0);
  const r = { ...o, normalPerBatch };
  check(r);
  return r;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Upper bounds that catch a typo before it allocates: a 2048x2048 batch of 8 already needs about 40 GiB
 * of activations, and ten million steps are years on any GPU we know.
 */
export const LIMITS = { size: 2048, batch: 512, steps: 10_000_000, checkpointEvery: 10_000_000, shots: 10_000 } as const;

function check(o: ResolvedOptions): void {
  const positive = { shots: o.shots, size: o.size, batch: o.batch, steps: o.steps, checkpointEvery: o.checkpointEvery };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v <= 0) throw new InputError(`--${kebab(name)} must be a positive integer, got ${v}`);
    const max = LIMITS[name as keyof typeof LIMITS];
    if (v > max) throw new InputError(`--${kebab(name)} ${v} is more than ${max}, the most gpuseg accepts`);
  }
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new InputError(problem);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new InputError(`--lr must be a positive number, got ${o.lr}`);
  for (const [name, v] of Object.entries({ lambdaBg: o.lambdaBg, lambdaFeat: o.lambdaFeat })) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new InputError(`--${kebab(name)} must be a non-negative number, got ${v}`);
  }
  if (o.loss !== 'bce' && o.loss !== 'bce+dice') throw new InputError(`--loss must be bce or bce+dice, got '${o.loss}'`);
  if (o.device !== 'gpu' && o.device !== 'cpu') throw new InputError(`--device must be gpu or cpu, got '${o.device}'`);
  if (o.nbrLayer !== 2 && o.nbrLayer !== 3) throw new InputError(`--nbr-layer must be 2 or 3, got ${o.nbrLayer}`);
  if (o.paste !== 'anywhere' && o.paste !== 'near') throw new InputError(`--paste must be anywhere or near, got '${o.paste}'`);
  if (!Number.isInteger(o.normalPerBatch) || o.normalPerBatch < 0) {
    throw new InputError(`--normal-per-batch must be a non-negative integer, got ${o.normalPerBatch}`);
  }
  if (o.normalPerBatch >= o.batch) throw new InputError(`--normal-per-batch ${o.normalPerBatch} leaves no annotated sample in a batch of ${o.batch}`);
  if (!o.nbr && o.normalPerBatch > 0) {
    throw new InputError(`--normal-per-batch ${o.normalPerBatch} with --no-nbr: normal images in a batch have no loss without NBR`);
  }
}

/** The command-line flag of an option: normalPerBatch -> normal-per-batch. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** config.json: every value the run used, so that a run can be repeated and compared. */
export function runConfig(o: ResolvedOptions, category: string, device: string) {
  return {
    format: RUN_FORMAT,
    model: RUN_MODEL,
    category,
    data: o.data,
    shots: o.shots,
    splitSeed: o.splitSeed,
    seed: o.seed,
    size: o.size,
    batch: o.batch,
    steps: o.steps,
    lr: o.lr,
    loss: o.loss,
    nbr: o.nbr,
    cropPaste: o.cropPaste,
    weighting: o.weighting,
    lambdaBg: o.lambdaBg,
    lambdaFeat: o.lambdaFeat,
    nbrLayer: o.nbrLayer,
    paste: o.paste,
    normalPerBatch: o.normalPerBatch,
    weightingWarmup: WEIGHTING_WARMUP,
    encoderWeights: o.encoderWeights ?? null,
    checkpointEvery: o.checkpointEvery,
    validateEvery: o.validateEvery,
    evaluate: o.evaluate,
    optimizerState: o.optimizerState,
    device,
  };
}

export const RUN_FORMAT = 'gpuseg-run/1';
export const RUN_MODEL = 'Unet(resnet34, classes=1)';

type FieldRule = (v: unknown) => string | null;
const integer = (min: number, max = Number.MAX_SAFE_INTEGER): FieldRule => (v) =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? null : `an integer from ${min} to ${max}`;
const number = (positive: boolean): FieldRule => (v) =>
  typeof v === 'number' && Number.isFinite(v) && (positive ? v > 0 : v >= 0) ? null : positive ? 'a positive number' : 'a non-negative number';
const boolean: FieldRule = (v) => (typeof v === 'boolean' ? null : 'true or false');
const oneOf = (...values: unknown[]): FieldRule => (v) => (values.includes(v) ? null : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
const text = (nullable: boolean): FieldRule => (v) => (typeof v === 'string' || (nullable && v === null) ? null : nullable ? 'a string or null' : 'a string');
const multipleOf32: FieldRule = (v) => (integer(32, LIMITS.size)(v) === null && (v as number) % 32 === 0 ? null : `a multiple of 32 from 32 to ${LIMITS.size}`);

/** What each field of config.json may hold (fields not listed are free: category, device, ...). */
const CONFIG_RULES: Record<string, FieldRule> = {
  format: oneOf(RUN_FORMAT),
  model: oneOf(RUN_MODEL),
  size: multipleOf32,
  data: text(false),
  shots: integer(1, LIMITS.shots),
  splitSeed: integer(0),
  seed: integer(0),
  batch: integer(1, LIMITS.batch),
  steps: integer(1, LIMITS.steps),
  lr: number(true),
  loss: oneOf('bce', 'bce+dice'),
  nbr: boolean,
  cropPaste: boolean,
  weighting: boolean,
  lambdaBg: number(false),
  lambdaFeat: number(false),
  nbrLayer: oneOf(2, 3),
  paste: oneOf('anywhere', 'near'),
  normalPerBatch: integer(0, LIMITS.batch),
  encoderWeights: text(true),
  checkpointEvery: integer(1, LIMITS.checkpointEvery),
  validateEvery: integer(0),
  evaluate: boolean,
  optimizerState: boolean,
};

/** Fields every run's config.json has, and predict, eval and --resume rely on. */
const REQUIRED_CONFIG = ['format', 'model', 'size'] as const;

/**
 * A run folder's config.json checked field by field (types, ranges, format, model), with an error that
 * names the file and the field: a config of `{}` must not make predict run at another size.
 */
export function checkRunConfig(config: unknown, source: string): Record<string, unknown> & { size: number } {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new InputError(`${source}: not a JSON object`);
  const c = config as Record<string, unknown>;
  for (const key of REQUIRED_CONFIG) if (!(key in c)) throw new InputError(`${source}: no '${key}' (not a gpuseg run's config)`);
  for (const [key, rule] of Object.entries(CONFIG_RULES)) {
    if (!(key in c)) continue;
    const problem = rule(c[key]);
    if (problem) throw new InputError(`${source}: '${key}' must be ${problem}, got ${JSON.stringify(c[key])}`);
  }
  return c as Record<string, unknown> & { size: number };
}

/** The options of the run whose config.json is `config` (from runConfig), for `out`; `source` names the file. */
export function recordedOptions(config: Record<string, unknown>, out: string, source: string): TrainOptions {
  checkRunConfig(config, source);
  const o: Record<string, unknown> = { out };
  for (const key of RECORDED) {
    if (!(key in config)) throw new InputError(`${source}: no '${key}', so the run cannot be resumed with its own settings`);
    o[key] = config[key] ?? undefined;
  }
  return o as unknown as TrainOptions;
}
