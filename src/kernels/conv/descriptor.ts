// What each conv kernel's file (forward.ts, input-grad.ts, weight-grad.ts) exports for the tuner: one
// typed descriptor saying everything the tuner, the tile lookup, pruning of stale tuning entries,
// `gpuseg tune` and the benchmarks need (its shaders, its tuning key, its heuristic default, its
// candidates, why a variant cannot run, how to read a variant from a tuning file, how to record one
// run). index.ts lists them as TUNED_CONV_KERNELS; a kernel added to CONV_KERNELS without a descriptor,
// or a descriptor of the wrong variant type, does not compile.
import type { Conv2dGeometry } from '../../core/geometry.js';
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import { shaderHash } from '../../gpu/pipelines.js';
import { TuningTable } from '../../gpu/tuning.js';
import type { Conv2dVariant, InputGradVariant, WeightGradVariant } from './variant.js';

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
   * validator (variant.ts parseVariant) with the kernel's kinds, then `problem`.
   */
  parse(gpu: Gpu, g: Conv2dGeometry, t: unknown): V | null;
  /** Records one run of `v`; the caller releases the output. */
  record(gpu: Gpu, b: ConvBuffers, g: Conv2dGeometry, v: V): BufferRef;
}

/** A descriptor's name, shaders and the key made of them. */
export function named(name: ConvKernel, shaders: readonly string[]): Pick<TunedConvKernel<unknown>, 'name' | 'shaders' | 'key'> {
  return { name, shaders, key: (g) => TuningTable.key(name, shaderHash(shaders), g) };
}
