// What one differentiable primitive is: its attributes, its forward and backward (each generic over the
// storage, so a rule runs on every backend and never mixes two) and the kernels they call (each defined
// with its CPU reference and WebGPU module: src/backend/kernels.ts, or at the op's entry).
import type { KernelDef } from '../backend/kernel.js';
import * as K from '../backend/kernels.js';
import type { BinaryOp } from '../core/types.js';
import { type Shape, broadcastAxes } from '../core/geometry.js';
import { Tensor } from './tensor.js';

export interface ForwardResult<S> {
  data: S;
  shape: Shape;
  /** Extra storage for the backward, freed with the output. */
  saved?: S[];
}

export interface OpRule<A> {
  /** Every kernel the forward and backward call (test/autograd/ops.test.ts checks the list). */
  readonly kernels: readonly KernelDef[];
  forward<S>(inputs: Tensor<S>[], attrs: A): ForwardResult<S>;
  /**
   * Gradient of each input from dy; `out` is the forward's result (with its saved storage). It runs in a
   * scope of its own (tensor.ts backward): intermediate tensors it makes (wrap, binaryOf) are freed when
   * it returns, so a rule frees nothing by hand.
   */
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
  const data = axes.length ? K.reduceSum(g.backend, g.data, g.shape, axes) : K.scale(g.backend, g.data, 1, g.size);
  return wrap(g, data, shape);
}

/** a op b over tensors, broadcast to `shape` (a's by default), as a non-differentiable tensor. */
export function binaryOf<S>(op: BinaryOp, a: Tensor<S>, b: Tensor<S>, shape: Shape = a.shape): Tensor<S> {
  return wrap(a, K.binary(a.backend, op, a.data, a.shape, b.data, b.shape, shape), shape);
}

/** alpha * x, as a non-differentiable tensor. */
export function scaleOf<S>(x: Tensor<S>, alpha: number): Tensor<S> {
  return wrap(x, K.scale(x.backend, x.data, alpha, x.size), x.shape);
}
