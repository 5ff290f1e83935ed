// The conv kernels, one file each (forward.ts, input-grad.ts, weight-grad.ts: variants, candidates,
// tuning descriptor and dispatch together; tiles.ts and variant.ts what they share), listed here as
// TUNED_CONV_KERNELS for everything that iterates over them: the tile lookup the WebGPU backend runs
// (chooseVariant), the tuner (tuneConvLayer, over src/kernels/autotune.ts), pruning of stale entries,
// `gpuseg tune` and the benchmarks (through src/tune/, the floor that owns tuning).
import type { Conv2dGeometry } from '../../core/geometry.js';
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import type { TuningTable } from '../../gpu/tuning.js';
import { rng, uniform } from '../../util/random.js';
import { type TuneOptions, type TuneResult, tune } from '../autotune.js';
import { type ConvBuffers, type ConvKernel, type ConvVariants, type TunedConvKernel } from './descriptor.js';
import { CONV2D_KERNEL } from './forward.js';
import { INPUT_GRAD_KERNEL } from './input-grad.js';
import { WEIGHT_GRAD_KERNEL } from './weight-grad.js';

export { CONV_KERNELS, type ConvBuffers, type ConvKernel, type ConvVariants, type TunedConvKernel } from './descriptor.js';

export const TUNED_CONV_KERNELS: { readonly [K in ConvKernel]: TunedConvKernel<ConvVariants[K]> } = {
  conv2d: CONV2D_KERNEL,
  conv2dInputGrad: INPUT_GRAD_KERNEL,
  conv2dWeightGrad: WEIGHT_GRAD_KERNEL,
};

/**
 * The variant `kernel` runs a layer with: the one `tuning` holds for its key, where it still parses as one
 * that can run here (a file from an older version or another driver may hold one that does not), else
 * the heuristic's.
 */
export function chooseVariant<K extends ConvKernel>(kernel: K, gpu: Gpu, tuning: TuningTable, g: Conv2dGeometry): ConvVariants[K] {
  const k = TUNED_CONV_KERNELS[kernel] as TunedConvKernel<ConvVariants[K]>;
  // An empty table (no tuning file) is the common case: no key to build.
  const choice = tuning.size === 0 ? undefined : tuning.get(k.key(g))?.choice;
  return (choice === undefined ? null : k.parse(gpu, g, choice)) ?? k.defaultVariant(gpu, g);
}

/** Records one run of `kernel` on the variant chooseVariant picks (what the WebGPU backend runs); the caller releases the output. */
export function recordConv(kernel: ConvKernel, gpu: Gpu, tuning: TuningTable, b: ConvBuffers, g: Conv2dGeometry): BufferRef {
  const k = TUNED_CONV_KERNELS[kernel] as TunedConvKernel<ConvVariants[ConvKernel]>;
  return k.record(gpu, b, g, chooseVariant(kernel, gpu, tuning, g));
}

export type ConvTuneResult = TuneResult<ConvVariants[ConvKernel]>;

/**
 * Tunes one kernel on one layer with random inputs and records the winner in `table`. A kernel with
 * `refine` is tuned in two stages: its candidates, then the refinements of the winner, whose first is
 * the winner itself (kept unless another beats it).
 */
export async function tuneConvLayer(gpu: Gpu, table: TuningTable, kernel: ConvKernel, g: Conv2dGeometry, o: TuneOptions = {}): Promise<ConvTuneResult> {
  return tuneWith(gpu, table, TUNED_CONV_KERNELS[kernel] as TunedConvKernel<ConvVariants[ConvKernel]>, g, o);
}

async function tuneWith<V>(gpu: Gpu, table: TuningTable, k: TunedConvKernel<V>, g: Conv2dGeometry, o: TuneOptions): Promise<TuneResult<V>> {
  const r = rng(0x7e57);
  const inputs: BufferRef[] = [];
  const upload = (size: number): BufferRef => {
    const ref = gpu.alloc(size * 4, 'tuneInput');
    gpu.write(ref, uniform(r, size));
    inputs.push(ref);
    return ref;
  };
  try {
    const b: ConvBuffers = {
      x: upload(g.n * g.h * g.w * g.cin),
      w: upload(g.kh * g.kw * g.cin * g.cout),
      bias: g.hasBias ? upload(g.cout) : null,
      dy: upload(g.n * g.oh * g.ow * g.cout),
    };
    const key = k.key(g);
    const run = (v: V) => k.record(gpu, b, g, v);
    const first = await tune(gpu, table, { kernel: k.name, key, candidates: k.candidates(gpu, g), run }, o);
    const more = k.refine?.(gpu, g, first.best) ?? [];
    if (more.length <= 1) return first;
    const second = await tune(gpu, table, { kernel: k.name, key, candidates: more, run }, o);
    // One result over both stages, against the heuristic's time from the first.
    table.set(key, { choice: second.best, ms: second.bestMs, defaultMs: first.defaultMs });
    return { ...second, defaultMs: first.defaultMs, results: [...first.results, ...second.results.slice(1)] };
  } finally {
    for (const ref of inputs) gpu.release(ref);
  }
}
