// The registry of tuned kernels: one typed descriptor per conv kernel, saying everything the tuner, the
// tile lookup, pruning of stale tuning entries, `gpuseg tune` and the benchmarks need (its shaders, its
// tuning key, its heuristic default, its candidates, why a variant cannot run, how to read a variant
// from a tuning file, how to record one run). They iterate over TUNED_CONV_KERNELS instead of keeping
// their own maps of kernel names to shader lists and key functions; a kernel added to CONV_KERNELS
// without a descriptor, or a descriptor of the wrong variant type, does not compile.
import type { Conv2dGeometry } from '../core/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';
import { shaderHash } from '../gpu/pipelines.js';
import { TuningTable } from '../gpu/tuning.js';
import { rng, uniform } from '../util/random.js';
import { type TuneOptions, type TuneResult, tune } from './autotune.js';
import { CONV2D_SHADERS, conv2dTileProblem, conv2dTiled, defaultConv2dTile, parseConv2dVariant } from './conv2d.js';
import { INPUT_GRAD_SHADERS, conv2dInputGradTiled, defaultInputGradTile, inputGradTileProblem, parseInputGradVariant } from './conv2dInputGrad.js';
import { WEIGHT_GRAD_SHADERS, conv2dWeightGradTiled, defaultWeightGradTile, parseWeightGradVariant, weightGradTileProblem } from './conv2dWeightGrad.js';
import { conv2dCandidates, inputGradCandidates, splitCandidates, weightGradCandidates } from './convTuning.js';
import type { Conv2dVariant, InputGradVariant, WeightGradVariant } from './convVariant.js';

export const CONV_KERNELS = ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'] as const;
export type ConvKernel = (typeof CONV_KERNELS)[number];

/** The variant type of each conv kernel. */
export interface ConvVariants {
  conv2d: Conv2dVariant;
  conv2dInputGrad: InputGradVariant;
  conv2dWeightGrad: WeightGradVariant;
}

/** The buffers one run of a conv kernel reads: x, w and bias for the forward, dy with w or x for the gradients. */
export interface ConvBuffers {
  x: BufferRef;
  w: BufferRef;
  bias: BufferRef | null;
  dy: BufferRef;
}

export interface TunedConvKernel<V> {
  readonly name: ConvKernel;
  /** The shaders its variants run: their text keys its tuning entries (a changed shader, new keys). */
  readonly shaders: readonly string[];
  /** Its tuning key for a layer: its name, the hash of its shaders' text, the layer's shape. */
  key(g: Conv2dGeometry): string;
  /** The heuristic's choice: what runs without a tuning entry, and the tuner's reference. */
  defaultVariant(gpu: Gpu, g: Conv2dGeometry): V;
  /** What the tuner measures; the default first. */
  candidates(gpu: Gpu, g: Conv2dGeometry): V[];
  /** After the first round, more candidates built from its winner (the weight gradient's split targets). */
  refine?(gpu: Gpu, g: Conv2dGeometry, best: V): V[];
  /** Why `v` cannot run this layer on this device, or null. */
  problem(gpu: Gpu, g: Conv2dGeometry, v: V): string | null;
  /**
   * `t`, read from a tuning file (anything), as a variant that can run this layer here, or null: the one
   * validator (convVariant.ts parseVariant) with the kernel's kinds, then `problem`.
   */
  parse(gpu: Gpu, g: Conv2dGeometry, t: unknown): V | null;
  /** Records one run of `v`; the caller releases the output. */
  record(gpu: Gpu, b: ConvBuffers, g: Conv2dGeometry, v: V): BufferRef;
}

/** A descriptor's name, shaders and the key made of them. */
function named(name: ConvKernel, shaders: readonly string[]): Pick<TunedConvKernel<unknown>, 'name' | 'shaders' | 'key'> {
  return { name, shaders, key: (g) => TuningTable.key(name, shaderHash(shaders), g) };
}

export const TUNED_CONV_KERNELS: { readonly [K in ConvKernel]: TunedConvKernel<ConvVariants[K]> } = {
  conv2d: {
    ...named('conv2d', CONV2D_SHADERS),
    defaultVariant: defaultConv2dTile,
    candidates: conv2dCandidates,
    problem: conv2dTileProblem,
    parse: parseConv2dVariant,
    record: (gpu, b, g, v) => conv2dTiled(gpu, b.x, b.w, b.bias, g, v),
  },
  conv2dInputGrad: {
    ...named('conv2dInputGrad', INPUT_GRAD_SHADERS),
    defaultVariant: defaultInputGradTile,
    candidates: inputGradCandidates,
    problem: inputGradTileProblem,
    parse: parseInputGradVariant,
    record: (gpu, b, g, v) => conv2dInputGradTiled(gpu, b.dy, b.w, g, v),
  },
  conv2dWeightGrad: {
    ...named('conv2dWeightGrad', WEIGHT_GRAD_SHADERS),
    defaultVariant: defaultWeightGradTile,
    candidates: weightGradCandidates,
    refine: splitCandidates,
    problem: weightGradTileProblem,
    parse: parseWeightGradVariant,
    record: (gpu, b, g, v) => conv2dWeightGradTiled(gpu, b.x, b.dy, g, v),
  },
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
