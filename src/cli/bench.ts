// `gpuseg bench ...`: microbenchmarks, each printing JSON (one object per line with --json).
import { Gpu } from '../gpu/gpu.js';
import { loadAdapterTuning } from '../gpu/tuning.js';
import { unetInputProblem } from '../model/unet.js';
import { InputError } from './errors.js';

export interface BenchOptions {
  json?: boolean;
  adapter?: string;
  size: number;
  iterations?: number;
}

export async function runBenchMatmul(opts: BenchOptions): Promise<void> {
  const { benchMatmul } = await import('../measure/matmul.js');
  const gpu = await Gpu.open({ adapter: opts.adapter });
  const result = { ...(await benchMatmul(gpu, { size: opts.size, iterations: opts.iterations })), adapter: gpu.summary.description };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `matmul ${result.m}x${result.k} * ${result.k}x${result.n}: ${result.gflops.toFixed(2)} GFLOP/s ` +
        `(median ${result.medianMs.toFixed(2)} ms over ${result.samples} runs) on ${result.adapter}\n`,
    );
  gpu.destroy();
}

export interface BenchKernelsOptions {
  json?: boolean;
  adapter?: string;
  batch: number;
  size: number;
  only?: string;
  iterations?: number;
}

export async function runBenchKernels(opts: BenchKernelsOptions): Promise<void> {
  const { benchKernels } = await import('../measure/kernels.js');
  const problem = unetInputProblem(opts.batch, opts.size);
  if (problem) throw new InputError(problem);
  const gpu = await Gpu.open({ adapter: opts.adapter });
  const adapter = gpu.summary.description;
  if (!opts.json) process.stdout.write(`kernels of the ResNet-34 UNet at batch ${opts.batch}, ${opts.size}x${opts.size}, on ${adapter}\n`);
  const tuning = await loadAdapterTuning(gpu.summary);
  if (tuning.problem) process.stderr.write(`gpuseg: ${tuning.problem}\n`);
  const o = { batch: opts.batch, size: opts.size, only: opts.only, timing: { iterations: opts.iterations }, tuning: tuning.table };
  await benchKernels(gpu, o, (r) => {
    if (opts.json) process.stdout.write(`${JSON.stringify({ ...r, batch: opts.batch, size: opts.size, adapter })}\n`);
    else {
      const rate = r.gflops !== undefined ? `${r.gflops.toFixed(2)} GFLOP/s` : `${r.gbps!.toFixed(2)} GB/s`;
      process.stdout.write(`${r.op.padEnd(20)} ${r.layer.padEnd(26)} ${r.shape.padEnd(34)} ${r.medianMs.toFixed(3).padStart(10)} ms  ${rate}\n`);
    }
  });
  gpu.destroy();
}

export interface BenchTrainOptions {
  json?: boolean;
  adapter?: string;
  batch: number;
  size: number;
  steps: number;
  warmup: number;
  profile?: boolean;
  method?: 'baseline' | 'full';
}

export async function runBenchTrain(o: BenchTrainOptions): Promise<void> {
  const { benchTrain } = await import('../measure/train.js');
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new InputError(problem);
  const { PROFILE_DAWN_FLAGS } = await import('../gpu/profiler.js');
  const gpu = await Gpu.open({ adapter: o.adapter, dawnFlags: o.profile ? PROFILE_DAWN_FLAGS : [] });
  try {
    const tuning = await loadAdapterTuning(gpu.summary);
    if (tuning.problem) process.stderr.write(`gpuseg: ${tuning.problem}\n`);
    const r = { ...(await benchTrain(gpu, { ...o, tuning: tuning.table })), tuningEntries: tuning.loaded };
    if (o.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    process.stdout.write(
      `ResNet-34 UNet, ${r.method}, batch ${r.batch}, ${r.size}x${r.size}, on ${r.adapter}\n` +
        `train step ${r.stepMs.toFixed(1)} ms (${r.trainImagesPerSecond.toFixed(2)} images/s), ` +
        `inference ${r.inferMs.toFixed(1)} ms (${r.inferImagesPerSecond.toFixed(2)} images/s)\n` +
        `buffer pool peak ${mib(r.poolPeakBytes)}, arenas ${mib(r.arenaBytes)}\n`,
    );
    for (const k of r.profile ?? []) {
      process.stdout.write(`${(100 * k.share).toFixed(1).padStart(6)}%  ${k.totalMs.toFixed(2).padStart(10)} ms  ${String(k.count).padStart(6)}x  ${k.kernel}\n`);
    }
  } finally {
    gpu.destroy();
  }
}
