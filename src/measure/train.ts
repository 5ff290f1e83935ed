// `gpuseg bench train`: images/s of a full training step (batch composed on the host, forward, backward,
// Adam, loss terms read back every step) and of inference, after warm-up, on the ResNet-34 UNet, for the
// baseline (shots only) or the full method (normal images, crop-and-paste, NBR loss, paste weights); the
// buffer pool's peak; and, with --profile, GPU time per kernel from timestamp queries.
import { Tensor, noGrad, scope } from '../autograd/index.js';
import { WebGpuBackend } from '../backend/webgpu/index.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';
import type { TuningTable } from '../gpu/tuning.js';
import type { KernelTime } from '../gpu/profiler.js';
import { materialize } from '../model/module.js';
import { INPUT_CHANNELS, Unet } from '../model/unet.js';
import { Adam } from '../train/optimizer.js';
import { type Batch, type BatchSources, batchLayout, makeBatch } from '../train/batch.js';
import type { LossConfig } from '../train/losses.js';
import { LAYER_STRIDE, TRAIN_DEFAULTS } from '../run/options.js';
import { recordTrainStep } from '../train/step.js';
import { type Rng, rng, uniform } from '../util/random.js';

export type BenchMethod = 'baseline' | 'full';
/** Synthetic shots and normal images the bench draws its batches from. */
const BENCH_SHOTS = 3;
const BENCH_NORMALS = 16;

/** Random images; each shot's mask is a square blob a quarter of the size across, somewhere inside. */
function benchSources(size: number, r: Rng): BatchSources {
  const pixels = size * size;
  const shots = Array.from({ length: BENCH_SHOTS }, () => {
    const mask = new Uint8Array(pixels);
    const side = size >> 2;
    const y0 = Math.floor(r() * (size - side));
    const x0 = Math.floor(r() * (size - side));
    for (let y = y0; y < y0 + side; y++) mask.fill(1, y * size + x0, y * size + x0 + side);
    return { image: uniform(r, pixels * 3, 0, 1), mask };
  });
  const normals = Array.from({ length: BENCH_NORMALS }, () => Uint8Array.from(uniform(r, pixels * 3, 0, 256), Math.floor));
  return { shots, normalCount: normals.length, normal: async (i) => normals[i]! };
}

export interface TrainBenchResult {
  impl: 'gpuseg';
  method: BenchMethod;
  adapter: string;
  batch: number;
  size: number;
  steps: number;
  /** Mean wall time of a step over the timed steps (steps overlap with the previous loss readback). */
  stepMs: number;
  trainImagesPerSecond: number;
  /** Median wall time of a forward pass in eval mode, output read back. */
  inferMs: number;
  inferImagesPerSecond: number;
  /** Peak bytes held by the buffer pool during the timed training steps. */
  poolPeakBytes: number;
  /** Parameters, gradients, Adam moments and batch-norm buffers (the arenas). */
  arenaBytes: number;
  finalLoss: number;
  profile?: KernelTime[];
}

export async function benchTrain(
  gpu: Gpu,
  o: { batch: number; size: number; steps: number; warmup?: number; profile?: boolean; method?: BenchMethod; tuning?: TuningTable },
): Promise<TrainBenchResult> {
  const method = o.method ?? 'baseline';
  const be = new WebGpuBackend(gpu, o.tuning);
  const model = new Unet<BufferRef>();
  const storage = materialize(model, be, rng(0));
  const opt = new Adam(storage, model.namedParameters().map(([, s]) => s));
  const r = rng(1);
  const full = method === 'full';
  const sources = benchSources(o.size, r);
  // --batch counts every image of a step, as before the normal images came on top of the annotated ones:
  // the full method's step of 8 is 4 annotated (2 shots, 2 pasted) and 4 normal images.
  const normals = Math.floor(o.batch / 2);
  const layout = full ? batchLayout(o.batch - normals, normals, true) : batchLayout(o.batch, 0, false);
  const batchOptions = { size: o.size, layout, cellStride: LAYER_STRIDE[TRAIN_DEFAULTS.nbrLayer], paste: TRAIN_DEFAULTS.paste };
  const cfg: LossConfig & { nbrLayer: 2 | 3 } = { loss: 'bce', nbr: full, lambdaBg: TRAIN_DEFAULTS.lambdaBg, lambdaFeat: TRAIN_DEFAULTS.lambdaFeat, nbrLayer: TRAIN_DEFAULTS.nbrLayer };
  let lastBatch: Batch | null = null;
  // The batch is composed on the host inside the timed loop, as in training (weights on, as after warm-up).
  const step = async () => {
    lastBatch = await makeBatch(batchOptions, sources, r);
    return recordTrainStep(model, opt, lastBatch, cfg, 1e-4, full);
  };
  try {
    for (let i = 0; i < (o.warmup ?? 2); i++) await (await step());
    gpu.pool.resetPeaks();
    const profiler = o.profile ? gpu.enableProfiling() : null;
    profiler?.reset();
    // Double-buffered as in training: step i's loss is awaited after step i+1 is submitted.
    const started = performance.now();
    let pending = await step();
    let finalLoss = NaN;
    for (let i = 1; i < o.steps; i++) {
      const next = await step();
      finalLoss = (await pending)[0]!;
      pending = next;
    }
    finalLoss = (await pending)[0]!;
    const stepMs = (performance.now() - started) / o.steps;
    const poolPeakBytes = gpu.pool.getStats().peakHeldBytes;
    const profile = profiler ? await profiler.report() : undefined;
    if (profiler) gpu.profiler = null;

    model.setTraining(false);
    const input = lastBatch!.input;
    const infer = () =>
      noGrad(() => scope(() => ({ p: model.forward(Tensor.from(be, input, [o.batch, o.size, o.size, INPUT_CHANNELS])).toArray() }))).p;
    await infer();
    const times: number[] = [];
    for (let i = 0; i < Math.max(3, o.steps); i++) {
      const t0 = performance.now();
      await infer();
      times.push(performance.now() - t0);
    }
    const inferMs = median(times);
    const arenaBytes = 4 * (storage.params.size * 4 + storage.buffers.size);
    return {
      impl: 'gpuseg',
      method,
      adapter: gpu.summary.description,
      batch: o.batch,
      size: o.size,
      steps: o.steps,
      stepMs,
      trainImagesPerSecond: (1000 * o.batch) / stepMs,
      inferMs,
      inferImagesPerSecond: (1000 * o.batch) / inferMs,
      poolPeakBytes,
      arenaBytes,
      finalLoss,
      ...(profile ? { profile } : {}),
    };
  } finally {
    opt.destroy();
    storage.params.destroy();
    storage.buffers.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
