// The training loop. Each step is one scope recorded into one command encoder: forward, backward,
// Adam. Only the loss comes back, asynchronously: step i's loss is read while step i+1 runs, so the
// queue never waits for the host. The host checks each loss for NaN.
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { F, Tensor, scope } from '../autograd/index.js';
import { type Category, kShotSplit, readCategory, readImage, readMask, writeSplit } from '../data/index.js';
import { type ModelStorage, materialize } from '../model/module.js';
import { importStateDict } from '../model/state.js';
import { loadEncoderWeights } from '../model/torch.js';
import { INPUT_CHANNELS, Unet, unetInputProblem } from '../model/unet.js';
import { rng } from '../util/random.js';
import { type Sample, augmentedBatch } from './batch.js';
import { saveCheckpoint } from './checkpoint.js';
import { type DeviceKind, openDevice } from './device.js';
import { predictProbabilities } from './inference.js';
import { Adam, learningRate } from './optimizer.js';

export type LossKind = 'bce' | 'bce+dice';

export interface TrainOptions {
  /** A category folder in the MVTec AD layout. */
  data: string;
  /** The run folder: checkpoints, config, split, log. */
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
}

export type TrainEvent =
  | { kind: 'start'; steps: number; device: string; shots: number; images: number }
  | { kind: 'step'; step: number; steps: number; loss: number; lr: number; imagesPerSecond: number; etaSeconds: number }
  | { kind: 'validation'; step: number; falsePositiveRate: number }
  | { kind: 'checkpoint'; step: number; dir: string };

export interface TrainResult {
  dir: string;
  steps: number;
  finalLoss: number;
  seconds: number;
}

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
};

/** The smooth term of the soft Dice loss: keeps it defined on empty masks. */
const DICE_SMOOTH = 1;
/** At most this many held-out normal images are scored per validation. */
const VALIDATION_IMAGES = 8;

export async function train(options: TrainOptions, onProgress: (e: TrainEvent) => void = () => {}): Promise<TrainResult> {
  const o = { ...TRAIN_DEFAULTS, ...options };
  validateOptions(o);
  const category = await readCategory(o.data);
  const split = kShotSplit(category, o.shots, o.splitSeed);
  await mkdir(o.out, { recursive: true });
  await writeSplit(join(o.out, 'split.json'), split, { category: category.name, shots: o.shots, splitSeed: o.splitSeed });
  const shots = await loadSamples(split.shots, o.size);
  const validation = await Promise.all(split.validationNormals.slice(0, VALIDATION_IMAGES).map((p) => readImage(p, o.size)));

  const device = await openDevice(o.device, o.adapter);
  const model = new Unet();
  let storage: ModelStorage | null = null;
  let opt: Adam | null = null;
  const logPath = join(o.out, 'log.jsonl');
  const config = runConfig(o, category, device.description);
  try {
    storage = materialize(model, device.backend, rng(o.seed));
    if (o.encoderWeights) {
      importStateDict(model, await loadEncoderWeights(o.encoderWeights), { only: 'encoder.', source: o.encoderWeights });
    }
    const slots = model.namedParameters().map(([, s]) => s);
    opt = new Adam(storage, slots);
    const r = rng(o.seed + 1);
    onProgress({ kind: 'start', steps: o.steps, device: device.description, shots: shots.length, images: shots.length });

    const started = performance.now();
    let pending: { step: number; lr: number; loss: Promise<Float64Array> } | null = null;
    let finalLoss = NaN;
    const report = async (p: NonNullable<typeof pending>) => {
      const loss = (await p.loss)[0]!;
      if (!Number.isFinite(loss)) {
        throw new Error(`training diverged: the loss is ${loss} at step ${p.step + 1} (lr ${p.lr.toExponential(2)}); the last checkpoint in ${o.out} is intact`);
      }
      finalLoss = loss;
      const elapsed = (performance.now() - started) / 1000;
      const done = p.step + 1;
      const imagesPerSecond = (done * o.batch) / elapsed;
      const etaSeconds = ((o.steps - done) * elapsed) / done;
      onProgress({ kind: 'step', step: done, steps: o.steps, loss, lr: p.lr, imagesPerSecond, etaSeconds });
      await appendFile(logPath, `${JSON.stringify({ step: done, loss, lr: p.lr, imagesPerSecond, time: elapsed })}\n`);
    };

    for (let step = 0; step < o.steps; step++) {
      const lr = learningRate(step, o.steps, o.lr);
      const { input, target } = augmentedBatch(shots, o.batch, o.size, r);
      const loss = recordTrainStep(model, opt, input, target, o.size, o.loss, lr);
      if (pending) await report(pending);
      pending = { step, lr, loss };

      const done = step + 1;
      if (o.validateEvery > 0 && (done % o.validateEvery === 0 || done === o.steps) && validation.length) {
        await report(pending);
        pending = null;
        const fpr = await falsePositiveRate(model, device.backend, validation, o.size);
        onProgress({ kind: 'validation', step: done, falsePositiveRate: fpr });
        await appendFile(logPath, `${JSON.stringify({ step: done, validationFalsePositiveRate: fpr })}\n`);
      }
      if (done % o.checkpointEvery === 0 || done === o.steps) {
        if (pending) await report(pending);
        pending = null;
        await saveCheckpoint(o.out, model, opt, { ...config, step: done });
        onProgress({ kind: 'checkpoint', step: done, dir: o.out });
      }
    }
    if (pending) await report(pending);
    return { dir: o.out, steps: o.steps, finalLoss, seconds: (performance.now() - started) / 1000 };
  } finally {
    opt?.destroy();
    storage?.params.destroy();
    storage?.buffers.destroy();
    device.close();
  }
}

/**
 * One training step, recorded and submitted: forward, loss, backward, Adam. Returns the loss as a
 * promise that settles when the GPU has finished the step; the host does not wait for it here.
 */
export function recordTrainStep(
  model: Unet,
  opt: Adam,
  input: Float32Array,
  target: Float32Array,
  size: number,
  loss: LossKind,
  lr: number,
): Promise<Float64Array> {
  const backend = opt.backend;
  const n = target.length / (size * size);
  return scope(() => {
    const x = Tensor.from(backend, input, [n, size, size, INPUT_CHANNELS]);
    const t = Tensor.from(backend, target, [n, size, size, 1]);
    const l = segmentationLoss(model.forward(x), t, loss);
    l.backward();
    opt.update(lr);
    // Records the copy of the loss and submits the step; the value arrives later.
    return { value: l.toArray() };
  }).value;
}

/** BCE with logits over the batch (each sample weight 1), plus soft Dice when asked. */
export function segmentationLoss(logits: Tensor, target: Tensor, kind: LossKind): Tensor {
  const n = logits.shape[0]!;
  const weights = Tensor.full(logits.backend, [n], 1);
  const bce = F.sigmoidBce(logits, target, weights);
  if (kind === 'bce') return bce;
  const p = F.sigmoid(logits);
  const smooth = Tensor.full(logits.backend, [], DICE_SMOOTH);
  const intersection = F.scale(F.sum(F.mul(p, target)), 2);
  const total = F.add(F.sum(p), F.sum(target));
  const dice = F.div(F.add(intersection, smooth), F.add(total, smooth));
  // 1 - dice, written as bce + (1 - dice) = (bce + 1) - dice.
  return F.sub(F.add(bce, Tensor.full(logits.backend, [], 1)), dice);
}

async function loadSamples(items: { image: string; mask: string }[], size: number): Promise<Sample[]> {
  return Promise.all(items.map(async (it) => ({ image: await readImage(it.image, size), mask: await readMask(it.mask, size) })));
}

async function falsePositiveRate(model: Unet, backend: Parameters<typeof predictProbabilities>[1], images: Float32Array[], size: number) {
  const probs = await predictProbabilities(model, backend, images, size);
  let positive = 0;
  let total = 0;
  for (const p of probs) {
    for (let i = 0; i < p.length; i++) if (p[i]! > 0.5) positive++;
    total += p.length;
  }
  return positive / total;
}

function validateOptions(o: Required<Omit<TrainOptions, 'encoderWeights' | 'adapter'>>): void {
  const positive = { shots: o.shots, size: o.size, batch: o.batch, steps: o.steps, checkpointEvery: o.checkpointEvery };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`--${kebab(name)} must be a positive integer, got ${v}`);
  }
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new Error(problem);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new Error(`--lr must be a positive number, got ${o.lr}`);
  if (o.loss !== 'bce' && o.loss !== 'bce+dice') throw new Error(`--loss must be bce or bce+dice, got '${o.loss}'`);
  if (o.device !== 'gpu' && o.device !== 'cpu') throw new Error(`--device must be gpu or cpu, got '${o.device}'`);
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function runConfig(o: typeof TRAIN_DEFAULTS & TrainOptions, category: Category, device: string) {
  return {
    format: 'gpuseg-run/1',
    model: 'Unet(resnet34, classes=1)',
    category: category.name,
    data: o.data,
    shots: o.shots,
    splitSeed: o.splitSeed,
    seed: o.seed,
    size: o.size,
    batch: o.batch,
    steps: o.steps,
    lr: o.lr,
    loss: o.loss,
    encoderWeights: o.encoderWeights ?? null,
    device,
  };
}
