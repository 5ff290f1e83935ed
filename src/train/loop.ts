// The step loop of a run (trainer.ts's runLoop phase). Each step is one scope recorded into one command
// encoder: forward, loss, backward, Adam. Only the loss terms come back, asynchronously: step i's terms
// are read while step i+1 runs, and batch i+1 is prepared on the host while step i runs, so the queue
// never waits for the host. The host checks every term for NaN.
import type { Device } from '../backend/open.js';
import { GpuLostError, GpuMemoryError } from '../gpu/errors.js';
import type { Unet } from '../model/unet.js';
import type { LineLog } from '../util/files.js';
import type { RandomStream } from '../util/random.js';
import { saveCheckpoint } from '../run/checkpoint.js';
import { LAYER_STRIDE, type ResolvedOptions, WEIGHTING_WARMUP } from '../run/options.js';
import { type BatchLayout, makeBatch } from './batch.js';
import { type Adam, learningRate } from './optimizer.js';
import { bgWeight, featWeight, layoutAt, stepConfig, syntheticPhaseSteps } from './schedule.js';
import { type BatchShape, type StepTerms, readTerms, recordTrainStep } from './step.js';
import { type TrainingData, falsePositiveRate } from './train-data.js';

/** What the loop reports (part of trainer.ts's TrainEvent). */
export type LoopEvent =
  | { kind: 'start'; steps: number; device: string; shots: number; normals: number; layout: { shots: number; pasted: number; normals: number } }
  | ({ kind: 'step'; step: number; steps: number; lr: number; imagesPerSecond: number; etaSeconds: number } & StepTerms)
  | { kind: 'validation'; step: number; falsePositiveRate: number }
  | { kind: 'checkpoint'; step: number; dir: string };

/** What the loop runs on: the model at its starting step, and what the run read before. */
export interface LoopRun {
  o: ResolvedOptions;
  model: Unet;
  opt: Adam;
  device: Device;
  /** The stream of the batches' random choices, at the starting step's position. */
  stream: RandomStream;
  /** The step the loop starts from (0, or a resumed checkpoint's). */
  first: number;
  /** config.json's content, recorded again with each checkpoint. */
  config: object;
  log: LineLog;
  layout: BatchLayout;
  data: TrainingData;
  /** Normal training images in the pool (for the start event). */
  normals: number;
}

const TERM_TITLES: Record<keyof StepTerms, string> = {
  loss: 'loss',
  seg: 'segmentation term',
  bg: 'background term',
  feat: 'feature term',
  pasteWeight: 'mean paste weight',
};

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

/** Steps from `first` to the last, with validation and checkpoints; the last loss and when the steps began. */
export async function runLoop(run: LoopRun, onProgress: (e: LoopEvent) => void): Promise<{ finalLoss: number; started: number }> {
  const { o, model, opt, device, stream, first, config, log, layout } = run;
  const { sources, shotCount, validation } = run.data;
  const r = stream.next;
  const batchOptions = { size: o.size, layout, cellStride: LAYER_STRIDE[o.nbrLayer], paste: o.paste, cellLabels: o.cellLabels };
  const lossConfig = stepConfig(o);
  const weightingFrom = o.weighting ? Math.ceil(WEIGHTING_WARMUP * o.steps) : Infinity;
  onProgress({ kind: 'start', steps: o.steps, device: device.description, shots: shotCount, normals: run.normals, layout });

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
      const terms = recordTrainStep(model, opt, batch, { ...lossConfig, lambdaFeat, lambdaBg: bgWeight(o, step) }, lr, step >= weightingFrom);
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
  return { finalLoss, started };
}
