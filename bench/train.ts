// `gpuseg bench train`: images/s of a full training step (forward, backward, Adam, loss read back every
// step) and of inference, after warm-up, on the ResNet-34 UNet; the buffer pool's peak; and, with
// --profile, GPU time per kernel from timestamp queries.
import { Tensor, noGrad, scope } from '../src/autograd/index.js';
import { WebGpuBackend } from '../src/backend/webgpu/index.js';
import type { Gpu } from '../src/gpu/gpu.js';
import type { KernelTime } from '../src/gpu/profiler.js';
import { materialize } from '../src/model/module.js';
import { INPUT_CHANNELS, Unet } from '../src/model/unet.js';
import { Adam } from '../src/train/optimizer.js';
import { recordTrainStep } from '../src/train/trainer.js';
import { rng, uniform } from '../src/util/random.js';

export interface TrainBenchResult {
  impl: 'gpuseg';
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
  o: { batch: number; size: number; steps: number; warmup?: number; profile?: boolean },
): Promise<TrainBenchResult> {
  const be = new WebGpuBackend(gpu);
  const model = new Unet();
  const storage = materialize(model, be, rng(0));
  const opt = new Adam(storage, model.namedParameters().map(([, s]) => s));
  const r = rng(1);
  const pixels = o.size * o.size;
  const input = uniform(r, o.batch * pixels * INPUT_CHANNELS, -2, 2);
  const target = new Float32Array(o.batch * pixels).map((_, i) => ((i % o.size) * 4 < o.size ? 1 : 0));
  const step = () => recordTrainStep(model, opt, input, target, o.size, 'bce', 1e-4);
  try {
    for (let i = 0; i < (o.warmup ?? 2); i++) await step();
    gpu.pool.resetPeaks();
    const profiler = o.profile ? gpu.enableProfiling() : null;
    profiler?.reset();
    // Double-buffered as in training: step i's loss is awaited after step i+1 is submitted.
    const started = performance.now();
    let pending = step();
    let finalLoss = NaN;
    for (let i = 1; i < o.steps; i++) {
      const next = step();
      finalLoss = (await pending)[0]!;
      pending = next;
    }
    finalLoss = (await pending)[0]!;
    const stepMs = (performance.now() - started) / o.steps;
    const poolPeakBytes = gpu.pool.getStats().peakHeldBytes;
    const profile = profiler ? await profiler.report() : undefined;
    if (profiler) gpu.profiler = null;

    model.setTraining(false);
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
