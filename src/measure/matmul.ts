// `gpuseg bench matmul`: one square matmul (size^3), timed per dispatch with tinybench (src/measure/timing.ts:
// each sample records the dispatch and awaits gpu.sync(), after warm-up). FLOPs = 2 m n k.
import type { MatmulGeometry } from '../core/geometry.js';
import type { Gpu } from '../gpu/gpu.js';
import { type MatmulTile, defaultMatmulTile, matmul } from '../tune/index.js';
import { rng, uniform } from '../util/random.js';
import { timeGpu } from './timing.js';

export interface MatmulBenchResult {
  op: 'matmul';
  m: number;
  n: number;
  k: number;
  medianMs: number;
  gflops: number;
  samples: number;
}

export async function benchMatmul(
  gpu: Gpu,
  opts: { size: number; iterations?: number; time?: number; tile?: MatmulTile },
): Promise<MatmulBenchResult> {
  const { size } = opts;
  if (!Number.isInteger(size) || size < 1) throw new Error(`bench matmul: size must be a positive integer, got ${size}`);
  const g: MatmulGeometry = { m: size, n: size, k: size, transA: false, transB: false };
  const r = rng(1);
  const a = gpu.alloc(size * size * 4, 'bench A');
  const b = gpu.alloc(size * size * 4, 'bench B');
  gpu.write(a, uniform(r, size * size));
  gpu.write(b, uniform(r, size * size));
  const tile = opts.tile ?? defaultMatmulTile(gpu);
  const t = await timeGpu(
    gpu,
    `matmul ${size}`,
    () => {
      const c = matmul(gpu, a, b, g, tile);
      return () => gpu.release(c);
    },
    { iterations: opts.iterations, time: opts.time },
  );
  gpu.release(a);
  gpu.release(b);
  const flops = 2 * g.m * g.n * g.k;
  return { op: 'matmul', m: g.m, n: g.n, k: g.k, medianMs: t.medianMs, gflops: flops / (t.medianMs * 1e6), samples: t.samples };
}
