// config.json: the record of every value a run used (runConfig), its check field by field when a run
// folder is read (checkRunConfig), and the options of a run taken back from it (recordedOptions).
import { CHOICES, LATER_RECORDED, LIMITS, RECORDED, type ResolvedOptions, type TrainOptions, WEIGHTING_WARMUP } from './options.js';
import { InputError } from '../util/errors.js';

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
    // With a tile, predict and eval find it here and run in tiles at this scale (evaluate/tiled-predict.ts).
    tile: o.tile ?? null,
    scale: o.tile ? o.scale ?? 1 : null,
    resize: o.resize,
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
    pasteSlots: o.pasteSlots,
    normalPerBatch: o.normalPerBatch,
    nbrFeatures: o.nbrFeatures,
    cellLabels: o.cellLabels,
    featRampup: o.featRampup,
    bgStart: o.bgStart,
    bgLoss: o.bgLoss,
    bgTop: o.bgTop,
    normalBn: o.normalBn,
    synthetic: o.synthetic,
    syntheticPhase: o.syntheticPhase,
    weightingWarmup: WEIGHTING_WARMUP,
    encoderWeights: o.encoderWeights ?? null,
    checkpointEvery: o.checkpointEvery,
    validateEvery: o.validateEvery,
    maxFpr: o.maxFpr,
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
  tile: (v) => (v === null || multipleOf32(v) === null ? null : `null or ${multipleOf32(v)}`),
  scale: (v) => (v === null || (typeof v === 'number' && v > 0 && v <= 1) ? null : 'null or a number above 0 and at most 1'),
  resize: oneOf(...CHOICES.resize),
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
  paste: oneOf(...CHOICES.paste),
  pasteSlots: oneOf(...CHOICES.pasteSlots),
  normalPerBatch: integer(0, LIMITS.batch),
  nbrFeatures: oneOf(...CHOICES.nbrFeatures),
  cellLabels: oneOf(...CHOICES.cellLabels),
  featRampup: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? null : 'a number from 0 to 1'),
  bgStart: (v) => (typeof v === 'number' && v >= 0 && v < 1 ? null : 'a number from 0 up to 1'),
  bgLoss: oneOf(...CHOICES.bgLoss),
  bgTop: (v) => (typeof v === 'number' && v > 0 && v <= 1 ? null : 'a number above 0 and at most 1'),
  normalBn: oneOf(...CHOICES.normalBn),
  synthetic: integer(0, LIMITS.batch),
  syntheticPhase: (v) => (typeof v === 'number' && v >= 0 && v < 1 ? null : 'a number from 0 up to (not including) 1'),
  encoderWeights: text(true),
  checkpointEvery: integer(1, LIMITS.checkpointEvery),
  validateEvery: integer(0),
  maxFpr: (v) => (typeof v === 'number' && v >= 0 && v < 1 ? null : 'a number from 0 up to (not including) 1'),
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
    if (!(key in config)) {
      // Left out, so that it takes its default (and an experiment's cell compares equal to it).
      if (LATER_RECORDED.has(key)) continue;
      throw new InputError(`${source}: no '${key}', so the run cannot be resumed with its own settings`);
    }
    o[key] = config[key] ?? undefined;
  }
  return o as unknown as TrainOptions;
}
