// A training run, in phases: readInputs (options, weights, category, split, verification, data), open
// the device, prepareRunFolder, startModel (fresh or from a checkpoint), runLoop (loop.ts: the steps with
// prefetch, validation and checkpoints) and finish (threshold, evaluation); what the run holds on the
// device is released however it ends.
import { join } from 'node:path';
import { type Category, ImageCache, type Split, kShotSplit, readCategory, verifyCategory, writeSplit } from '../data/index.js';
import { type ModelStorage, materialize } from '../model/module.js';
import { checkStateDict, importStateDict } from '../model/state.js';
import { encoderWeightsFile } from '../model/pretrained.js';
import { loadEncoderWeights } from '../model/torch.js';
import { Unet } from '../model/unet.js';
import { LineLog, makeFolder } from '../util/files.js';
import { RandomStream, rng } from '../util/random.js';
import { type BatchLayout, batchLayout } from './batch.js';
import { loadCheckpoint, writeRunConfig } from '../run/checkpoint.js';
import { type Device, openDevice } from '../backend/open.js';
import { evaluationItems, evaluate, writeEvaluation, type EvaluationResult } from '../evaluate/evaluation.js';
import { type ThresholdEvent, type ThresholdRecord, recordedThreshold, settleRunThreshold } from '../evaluate/threshold.js';
import { type TrainingData, trainingData } from './train-data.js';
import { tilingOf } from '../evaluate/tiled-predict.js';
import { Adam } from './optimizer.js';
import { checkResumedLayout, startingPoint, truncateLog } from '../run/resume.js';
import { LOG_FILE, SPLIT_FILE, checkRunFolder, clearRun, removeLeftovers } from '../run/run-folder.js';
import { type ResolvedOptions, type TrainOptions, resolveOptions } from '../run/options.js';
import { runConfig } from '../run/run-config.js';
import { lockForTraining } from '../run/run-lock.js';
import { InputError } from '../util/errors.js';
import { type LoopEvent, runLoop } from './loop.js';

export { TRAIN_DEFAULTS, type TrainOptions } from '../run/options.js';

export type TrainEvent =
  | { kind: 'checking'; done: number; total: number }
  | { kind: 'warning'; message: string }
  | { kind: 'reading'; done: number; total: number }
  | LoopEvent
  | { kind: 'evaluating'; done: number; total: number }
  | { kind: 'downloading'; done: number; total: number | null }
  | ThresholdEvent;

export interface TrainResult {
  dir: string;
  steps: number;
  finalLoss: number;
  seconds: number;
  evaluation: EvaluationResult | null;
  /** threshold.json, or null when the split held out no normal images. */
  threshold: ThresholdRecord | null;
  /** What each step's batch held (config.json's layout). */
  layout: BatchLayout;
}

/** What the runs of one process (an experiment's cells) can share. */
export interface TrainContext {
  /** Decoded images. */
  images?: ImageCache;
  /** An open device (its pipelines are built once); the run leaves it open. */
  device?: Device;
  /** Category folders already decoded in full (verifyCategory): an experiment's cells check theirs once. */
  verified?: Set<string>;
}

type Progress = (e: TrainEvent) => void;

/** Everything a run reads and checks before it opens the device or touches its folder. */
interface Inputs {
  start: Awaited<ReturnType<typeof startingPoint>>;
  o: ResolvedOptions;
  /** --overwrite of a finished run: its folder is cleared first. */
  replacing: boolean;
  weightsFile: string | null;
  encoder: Awaited<ReturnType<typeof loadEncoderWeights>> | null;
  category: Category;
  split: Split;
  layout: BatchLayout;
  /** The normal training images the batches draw from (none when no batch needs them). */
  normals: string[];
  data: TrainingData;
}

/** What a run holds on the device, released when it ends, however it ends. */
interface Held {
  storage: ModelStorage | null;
  opt: Adam | null;
}

/** Trains in `options.out`, which it holds (run/run-lock.ts) from before the first read of it to the end. */
export async function train(options: TrainOptions, onProgress: Progress = () => {}, ctx: TrainContext = {}): Promise<TrainResult> {
  const lock = await lockForTraining(options, (message) => onProgress({ kind: 'warning', message }));
  try {
    return await trainLocked(options, onProgress, ctx);
  } finally {
    await lock.release();
  }
}

async function trainLocked(options: TrainOptions, onProgress: Progress, ctx: TrainContext): Promise<TrainResult> {
  const inputs = await readInputs(options, onProgress, ctx);
  const { o } = inputs;
  // The adapter is an input too (--adapter): opened before the folder is written.
  const device = ctx.device ?? (await openDevice(o.device, o.adapter));
  await prepareRunFolder(inputs, device, ctx);
  const model = new Unet();
  const held: Held = { storage: null, opt: null };
  const logPath = join(o.out, LOG_FILE);
  // Opened at its first line, after a resume has cut the log back to the checkpoint's step.
  const log = new LineLog(logPath);
  const config = recordedConfig(inputs, device);
  try {
    const { opt, stream, first } = await startModel(inputs, model, device, config, logPath, held);
    const loop = await runLoop({ o, model, opt, device, stream, first, config, log, layout: inputs.layout, data: inputs.data, normals: inputs.normals.length }, onProgress);
    await log.close();
    return await finish(inputs, model, device, config, loop, onProgress);
  } finally {
    await log.close().catch(() => {}); // after a failure: the lines written so far stay; the failure is what is reported
    held.opt?.destroy();
    held.storage?.params.destroy();
    held.storage?.buffers.destroy();
    if (!ctx.device) device.close();
  }
}

/** Options (a resume's recorded ones), encoder weights, category, split and the training data, all checked. */
async function readInputs(options: TrainOptions, onProgress: Progress, ctx: TrainContext): Promise<Inputs> {
  const start = await startingPoint(options);
  const o = resolveOptions(start.options);
  const replacing = start.from ? false : await checkRunFolder(o.out, o.overwrite === true);
  // The weights file is checked (names, shapes, finite values) before any image is decoded.
  const weightsFile = o.encoderWeights ? await encoderWeightsFile(o.encoderWeights, (done, total) => onProgress({ kind: 'downloading', done, total })) : null;
  const encoder = weightsFile ? await loadEncoderWeights(weightsFile) : null;
  if (encoder) checkStateDict(new Unet(), encoder, { only: 'encoder.', source: weightsFile ?? undefined });
  const category = await readCategory(o.data);
  const split = kShotSplit(category, o.shots, o.splitSeed);
  const layout = batchLayout(o.batch, o.normalPerBatch, o.cropPaste, o.synthetic, o.pasteSlots);
  if (start.from) checkResumedLayout(start.layout, layout, o.out);
  const needsNormals = layout.normals > 0 || layout.pasted > 0 || layout.synthetic > 0 || o.syntheticPhase > 0;
  if (needsNormals && split.normals.length === 0) throw new InputError(`no normal training images left in '${o.data}/train/good' after the validation hold-out`);
  if (!ctx.verified?.has(category.dir)) {
    const checked = await verifyCategory(category, (done, total) => onProgress({ kind: 'checking', done, total }), { resize: o.resize, tiled: o.tile !== undefined });
    for (const message of checked.warnings) onProgress({ kind: 'warning', message });
    ctx.verified?.add(category.dir);
  }
  const images = ctx.images ?? new ImageCache();
  const normals = needsNormals ? split.normals : [];
  const data = await trainingData(o, split, normals, images, onProgress);
  return { start, o, replacing, weightsFile, encoder, category, split, layout, normals, data };
}

/** Every input has been read and checked: only now is the run folder touched (cleared, made, the split written). */
async function prepareRunFolder({ o, start, replacing, split, category }: Inputs, device: Device, ctx: TrainContext): Promise<void> {
  try {
    if (replacing) await clearRun(o.out);
    await removeLeftovers(o.out);
    await makeFolder(o.out, '--out');
    if (!start.from) await writeSplit(join(o.out, SPLIT_FILE), split, { category: category.name, shots: o.shots, splitSeed: o.splitSeed, root: category.dir });
  } catch (err) {
    // A full disk or a read-only folder: the device opened above is closed as after a failed step.
    if (!ctx.device) device.close();
    throw err;
  }
}

/** config.json: `--encoder-weights imagenet` is recorded as given (a resume finds it in the cache) and as the file it was. */
function recordedConfig({ o, category, weightsFile, layout }: Inputs, device: Device) {
  return { ...runConfig(o, category.name, device.description), ...(weightsFile !== (o.encoderWeights ?? null) ? { encoderWeightsFile: weightsFile } : {}), layout };
}

/**
 * The model and Adam on the device (into `held` as each is made) at the starting step: fresh weights (and
 * the encoder's) and config.json written, or a checkpoint's weights, moments and random stream with the
 * log cut back to it.
 */
async function startModel({ o, start, encoder, weightsFile }: Inputs, model: Unet, device: Device, config: object, logPath: string, held: Held) {
  const storage = (held.storage = materialize(model, device.backend, rng(o.seed)));
  if (encoder) importStateDict(model, encoder, { only: 'encoder.', source: weightsFile ?? undefined });
  const opt = (held.opt = new Adam(storage, model.namedParameters().map(([, s]) => s)));
  // The stream of every random choice of the batches (shots, normal images, flips, pastes).
  const stream = new RandomStream(o.seed + 1);
  const first = start.from?.state.step ?? 0;
  if (start.from) {
    await loadCheckpoint(start.from, model, opt);
    stream.state = start.from.state.rng;
    await truncateLog(logPath, first);
  } else {
    await writeRunConfig(o.out, config, 0);
  }
  return { opt, stream, first };
}

/** The decision threshold and (unless --no-eval) the evaluation of the final weights. */
async function finish({ o, split, layout }: Inputs, model: Unet, device: Device, config: ReturnType<typeof recordedConfig>, loop: { finalLoss: number; started: number }, onProgress: Progress): Promise<TrainResult> {
  const seconds = (performance.now() - loop.started) / 1000;
  // A run on tiles is scored as predict and eval will run it: in tiles at the recorded scale.
  const tiling = tilingOf(o.out, config, {});
  const run = { dir: o.out, model, backend: device.backend, normals: split.validationNormals, size: o.size, maxFpr: o.maxFpr, step: o.steps, tiling, resize: o.resize };
  const threshold = await settleRunThreshold(run, onProgress);
  let evaluation: EvaluationResult | null = null;
  if (o.evaluate) {
    const items = await evaluationItems(o.out);
    const measured = await evaluate(model, device.backend, items, o.size, (done, total) => onProgress({ kind: 'evaluating', done, total }), undefined, recordedThreshold(threshold), tiling, o.resize);
    evaluation = await writeEvaluation(o.out, { ...measured, step: o.steps });
  }
  return { dir: o.out, steps: o.steps, finalLoss: loop.finalLoss, seconds, evaluation, threshold, layout };
}
