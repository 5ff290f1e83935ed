// The training loop. Each step is one scope recorded into one command encoder: forward, loss, backward,
// Adam. Only the loss terms come back, asynchronously: step i's terms are read while step i+1 runs, and
// batch i+1 is prepared on the host while step i runs, so the queue never waits for the host. The host
// checks every term for NaN.
import { join } from 'node:path';
import { ImageCache, kShotSplit, readCategory, verifyCategory, writeSplit } from '../data/index.js';
import { type ModelStorage, materialize } from '../model/module.js';
import { checkStateDict, importStateDict } from '../model/state.js';
import { encoderWeightsFile } from '../model/pretrained.js';
import { loadEncoderWeights } from '../model/torch.js';
import { Unet } from '../model/unet.js';
import { LineLog, makeFolder } from '../util/files.js';
import { RandomStream, rng } from '../util/random.js';
import { batchLayout, makeBatch } from './batch.js';
import { loadCheckpoint, saveCheckpoint, writeRunConfig } from './checkpoint.js';
import { GpuLostError, GpuMemoryError } from '../gpu/errors.js';
import { type Device, openDevice } from './device.js';
import { evaluationItems, evaluate, writeEvaluation, type EvaluationResult } from './evaluation.js';
import { type ThresholdEvent, type ThresholdRecord, recordedThreshold, settleRunThreshold } from './threshold.js';
import { falsePositiveRate, trainingData } from './train-data.js';
import { tilingOf } from './tiled-predict.js';
import { Adam, learningRate } from './optimizer.js';
import { checkResumedLayout, startingPoint, truncateLog } from './resume.js';
import { featWeight, layoutAt, stepConfig, syntheticPhaseSteps } from './schedule.js';
import { LOG_FILE, SPLIT_FILE, checkRunFolder, clearRun, removeLeftovers } from './run-folder.js';
import { type BatchShape, type StepTerms, readTerms, recordTrainStep } from './step.js';
import { LAYER_STRIDE, type ResolvedOptions, type TrainOptions, WEIGHTING_WARMUP, resolveOptions } from './options.js';
import { runConfig } from './run-config.js';
import { lockForTraining } from './run-lock.js';
import { InputError } from '../util/errors.js';

export { TRAIN_DEFAULTS, type TrainOptions } from './options.js';

export type TrainEvent =
  | { kind: 'checking'; done: number; total: number }
  | { kind: 'warning'; message: string }
  | { kind: 'reading'; done: number; total: number }
  | { kind: 'start'; steps: number; device: string; shots: number; normals: number; layout: { shots: number; pasted: number; normals: number } }
  | ({ kind: 'step'; step: number; steps: number; lr: number; imagesPerSecond: number; etaSeconds: number } & StepTerms)
  | { kind: 'validation'; step: number; falsePositiveRate: number }
  | { kind: 'checkpoint'; step: number; dir: string }
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
}

const TERM_TITLES: Record<keyof StepTerms, string> = {
  loss: 'loss',
  seg: 'segmentation term',
  bg: 'background term',
  feat: 'feature term',
  pasteWeight: 'mean paste weight',
};

/** What the runs of one process (an experiment's cells) can share. */
export interface TrainContext {
  /** Decoded images. */
  images?: ImageCache;
  /** An open device (its pipelines are built once); the run leaves it open. */
  device?: Device;
  /** Category folders already decoded in full (verifyCategory): an experiment's cells check theirs once. */
  verified?: Set<string>;
}

/**
 * Out of GPU memory or a lost device, as one line that says what was asked and what to do; the run
 * folder keeps its last checkpoint, which --resume continues from (with a smaller batch: a new run).
 */
function gpuTrouble(err: unknown, o: ResolvedOptions, checkpointed: number): unknown {
  const kept = checkpointed ? `the checkpoint of step ${checkpointed} in ${o.out} is kept` : 'no checkpoint had been written';
  const flag = o.tile ? '--tile' : '--size';
  const at = `--batch ${o.batch}, ${flag} ${o.size}`;
  if (err instanceof GpuMemoryError) {
    const held = (err.heldBytes / 2 ** 20).toFixed(0);
    const smaller = o.batch > 1 ? `--batch ${Math.max(1, Math.floor(o.batch / 2))}` : `${flag} ${Math.max(32, Math.floor(o.size / 64) * 32)}`;
    return new Error(`out of GPU memory training at ${at}: a step asked for more than the ${held} MiB its buffers held ("${err.detail}"); try ${smaller}; ${kept}`);
  }
  if (err instanceof GpuLostError) return new Error(`${err.message} while training at ${at}; ${kept} (--resume ${o.out} continues from it)`);
  return err;
}

/** Trains in `options.out`, which it holds (run-lock.ts) from before the first read of it to the end. */
export async function train(options: TrainOptions, onProgress: (e: TrainEvent) => void = () => {}, ctx: TrainContext = {}): Promise<TrainResult> {
  const lock = await lockForTraining(options, (message) => onProgress({ kind: 'warning', message }));
  try {
    return await trainLocked(options, onProgress, ctx);
  } finally {
    await lock.release();
  }
}

async function trainLocked(options: TrainOptions, onProgress: (e: TrainEvent) => void, ctx: TrainContext): Promise<TrainResult> {
  const start = await startingPoint(options);
  const o = resolveOptions(start.options);
  const replacing = start.from ? false : await checkRunFolder(o.out, o.overwrite === true);
  // The weights file is checked (names, shapes, finite values) before any image is decoded.
  const weightsFile = o.encoderWeights ? await encoderWeightsFile(o.encoderWeights, (done, total) => onProgress({ kind: 'downloading', done, total })) : null;
  const encoder = weightsFile ? await loadEncoderWeights(weightsFile) : null;
  if (encoder) checkStateDict(new Unet(), encoder, { only: 'encoder.', source: weightsFile ?? undefined });
  const category = await readCategory(o.data);
  const split = kShotSplit(category, o.shots, o.splitSeed);
  const layout = batchLayout(o.batch, o.normalPerBatch, o.cropPaste, o.synthetic);
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
  const { sources, shotCount, validation } = await trainingData(o, split, normals, images, onProgress);

  // The adapter is an input too (--adapter): opened before the folder is written.
  const device = ctx.device ?? (await openDevice(o.device, o.adapter));

  // Every input has been read and checked: only now is the run folder touched.
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
  const model = new Unet();
  let storage: ModelStorage | null = null;
  let opt: Adam | null = null;
  const logPath = join(o.out, LOG_FILE);
  // Opened at its first line, after a resume has cut the log back to the checkpoint's step.
  const log = new LineLog(logPath);
  // `--encoder-weights imagenet` is recorded as given (a resume finds it in the cache) and as the file it was.
  const config = { ...runConfig(o, category.name, device.description), ...(weightsFile !== (o.encoderWeights ?? null) ? { encoderWeightsFile: weightsFile } : {}), layout };
  try {
    storage = materialize(model, device.backend, rng(o.seed));
    if (encoder) importStateDict(model, encoder, { only: 'encoder.', source: weightsFile ?? undefined });
    opt = new Adam(storage, model.namedParameters().map(([, s]) => s));
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
    const r = stream.next;
    const batchOptions = { size: o.size, layout, cellStride: LAYER_STRIDE[o.nbrLayer], paste: o.paste, cellLabels: o.cellLabels };
    const lossConfig = stepConfig(o);
    const weightingFrom = o.weighting ? Math.ceil(WEIGHTING_WARMUP * o.steps) : Infinity;
    onProgress({ kind: 'start', steps: o.steps, device: device.description, shots: shotCount, normals: normals.length, layout });

    const started = performance.now();
    let pending: { step: number; lr: number; lambdaFeat: number; batch: BatchShape; terms: Promise<Float64Array> } | null = null;
    let finalLoss = NaN;
    let checkpointed = 0;
    const report = async (p: NonNullable<typeof pending>) => {
      const terms = readTerms(await p.terms, p.batch, { ...lossConfig, lambdaFeat: p.lambdaFeat });
      // The parts first, so that the message names the term that went bad, then their sum.
      for (const name of ['seg', 'bg', 'feat', 'pasteWeight', 'loss'] as const) {
        const v = terms[name];
        if (v !== null && !Number.isFinite(v)) {
          const kept = checkpointed ? `the checkpoint of step ${checkpointed} in ${o.out} is intact` : 'no checkpoint was written before it';
          throw new Error(`training diverged: the ${TERM_TITLES[name]} is ${v} at step ${p.step + 1} (lr ${p.lr.toExponential(2)}); ${kept}`);
        }
      }
      finalLoss = terms.loss;
      const elapsed = (performance.now() - started) / 1000;
      const done = p.step + 1;
      const imagesPerSecond = ((done - first) * o.batch) / elapsed;
      const etaSeconds = ((o.steps - done) * elapsed) / (done - first);
      onProgress({ kind: 'step', step: done, steps: o.steps, lr: p.lr, imagesPerSecond, etaSeconds, ...terms });
      log.append(JSON.stringify({ step: done, ...terms, lr: p.lr, imagesPerSecond, time: elapsed }));
    };

    // The stream's state before each prefetched batch was drawn: a checkpoint after step k records the
    // one of batch k, which is drawn while step k - 1 runs.
    const streamBefore = new Map<number, number>();
    const phaseSteps = syntheticPhaseSteps(o);
    const prefetch = (step: number) => {
      streamBefore.set(step, stream.state);
      const b = makeBatch({ ...batchOptions, layout: layoutAt(layout, step, phaseSteps) }, sources, r);
      // Awaited at the next step; until then a failure must not count as unhandled.
      b.catch(() => {});
      return b;
    };
    let next = prefetch(first);
    try {
      for (let step = first; step < o.steps; step++) {
        const lr = learningRate(step, o.steps, o.lr);
        const batch = await next;
        const lambdaFeat = featWeight(o, step);
        const terms = recordTrainStep(model, opt, batch, { ...lossConfig, lambdaFeat }, lr, step >= weightingFrom);
        // Awaited by report(); when an earlier step fails first, it rejects as the device closes, unheard.
        terms.catch(() => {});
        // The next batch is composed while this step runs on the GPU (image decodes are cached).
        if (step + 1 < o.steps) next = prefetch(step + 1);
        streamBefore.delete(step);
        if (pending) await report(pending);
        pending = { step, lr, lambdaFeat, batch: { normals: batch.normals, pasted: batch.paste !== null }, terms };

        const done = step + 1;
        if (o.validateEvery > 0 && (done % o.validateEvery === 0 || done === o.steps) && validation.length) {
          await report(pending);
          pending = null;
          const fpr = await falsePositiveRate(model, device.backend, validation, o.size);
          onProgress({ kind: 'validation', step: done, falsePositiveRate: fpr });
          log.append(JSON.stringify({ step: done, validationFalsePositiveRate: fpr }));
        }
        if (done % o.checkpointEvery === 0 || done === o.steps) {
          if (pending) await report(pending);
          pending = null;
          // The log holds every step up to the checkpoint before it exists (a resume cuts the log back to it).
          await log.flush();
          await saveCheckpoint(o.out, model, o.optimizerState ? opt : null, config, { step: done, rng: streamBefore.get(done) ?? stream.state });
          checkpointed = done;
          onProgress({ kind: 'checkpoint', step: done, dir: o.out });
        }
      }
      if (pending) await report(pending);
    } catch (err) {
      throw gpuTrouble(err, o, checkpointed);
    }
    await log.close();
    const seconds = (performance.now() - started) / 1000;
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
    return { dir: o.out, steps: o.steps, finalLoss, seconds, evaluation, threshold };
  } finally {
    await log.close().catch(() => {}); // after a failure: the lines written so far stay; the failure is what is reported
    opt?.destroy();
    storage?.params.destroy();
    storage?.buffers.destroy();
    if (!ctx.device) device.close();
  }
}
