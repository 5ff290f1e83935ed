// What one differentiable primitive is: its attributes, its forward and backward (each generic over the
// storage, so a rule runs on every backend and never mixes two) and the Backend kernels they call, the
// reference of each being the CPU backend's (src/backend/cpu/index.ts CPU_KERNELS).
import type { BackendKernels } from '../backend/backend.js';
import { type Shape, broadcastAxes } from '../core/geometry.js';
import { Tensor } from './tensor.js';

export interface ForwardResult<S> {
  data: S;
  shape: Shape;
  /** Extra storage for the backward, freed with the output. */
  saved?: S[];
}

/** A kernel of the Backend contract. */
export type KernelName = keyof BackendKernels<unknown>;

export interface OpRule<A> {
  /** Every Backend kernel the forward and backward call (test/autograd/ops.test.ts checks the list). */
  readonly kernels: readonly KernelName[];
  forward<S>(inputs: Tensor<S>[], attrs: A): ForwardResult<S>;
  /** Gradient of each input from dy; `out` is the forward's result (with its saved storage). */
  backward<S>(dy: Tensor<S>, inputs: Tensor<S>[], out: Tensor<S>, attrs: A, saved: S[]): (Tensor<S> | null)[];
}

/** The non-tensor arguments of an op without any. */
export type NoAttrs = Record<string, never>;

/** A rule with its attributes' type stated once, here, where the table entry is written. */
export function rule<A = NoAttrs>(r: OpRule<A>): OpRule<A> {
  return r;
}

/** Wraps backend storage as a (non-differentiable) tensor. */
export function wrap<S>(like: Tensor<S>, data: S, shape: Shape): Tensor<S> {
  return new Tensor(like.backend, data, shape);
}

/** Sums a broadcast gradient back to the shape of the input it came from. */
export function sumTo<S>(g: Tensor<S>, shape: Shape): Tensor<S> {
  const axes = broadcastAxes(shape, g.shape);
  if (axes.length === 0 && g.shape.length === shape.length) return g;
  const data = axes.length ? g.backend.reduceSum(g.data, g.shape, axes) : g.backend.scale(g.data, 1, g.size);
  return wrap(g, data, shape);
}
