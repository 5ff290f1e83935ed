// Timing of GPU work with tinybench: each sample records the work, submits it and waits for the GPU,
// so a sample is the wall time of the work itself (plus one submit and one fence on the host).
import { Bench } from 'tinybench';
import type { Gpu } from '../gpu/gpu.js';

export interface TimingOptions {
  /** Minimum timed runs (default 10). */
  iterations?: number;
  /** Minimum time to spend sampling, in ms (default 200). */
  time?: number;
  /** Untimed runs first: pipelines build and buffers enter the pool (default 2). */
  warmup?: number;
}

export interface Timing {
  medianMs: number;
  meanMs: number;
  samples: number;
}

/** Times `record` (which records dispatches and may return a cleanup run after the GPU finished). */
export async function timeGpu(gpu: Gpu, name: string, record: () => (() => void) | void, o: TimingOptions = {}): Promise<Timing> {
  const run = async () => {
    const cleanup = record();
    await gpu.sync();
    cleanup?.();
  };
  for (let i = 0; i < (o.warmup ?? 2); i++) await run();
  const bench = new Bench({ name, iterations: o.iterations ?? 10, time: o.time ?? 200, warmup: false });
  bench.add(name, run);
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`benchmark ${name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
  return { medianMs: r.latency.p50, meanMs: r.latency.mean, samples: r.latency.samplesCount };
}
