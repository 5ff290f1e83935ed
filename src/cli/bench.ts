// `gpuseg bench ...`: microbenchmarks, each printing JSON (one object per line with --json).
import { Gpu } from '../gpu/gpu.js';

export interface BenchOptions {
  json?: boolean;
  adapter?: string;
  size: number;
  iterations?: number;
}

export async function runBenchMatmul(opts: BenchOptions): Promise<void> {
  const { benchMatmul } = await import('../../bench/matmul.js');
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
