// The differentiable functions the model is written with. Primitives go through the op table;
// composites (mean, sub by scale, ...) are built from primitives and get their gradients for free.
import type { BnFuse } from '../core/types.js';
import { normalizeAxes } from '../core/geometry.js';
import { apply } from './apply.js';
import { type Tensor, noGrad } from './tensor.js';

const none = {} as Record<string, never>;

export const add = <S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> => apply('add', [a, b], none);
export const sub = <S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> => apply('sub', [a, b], none);
export const mul = <S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> => apply('mul', [a, b], none);
export const div = <S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> => apply('div', [a, b], none);
export const sigmoid = <S>(x: Tensor<S>): Tensor<S> => apply('sigmoid', [x], none);
export const scale = <S>(x: Tensor<S>, alpha: number): Tensor<S> => apply('scale', [x], { alpha });
export const relu = <S>(x: Tensor<S>): Tensor<S> => apply('relu', [x], none);
export const matmul = <S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> => apply('matmul', [a, b], none);

export function sum<S>(x: Tensor<S>, axes?: number[], keepDims = false): Tensor<S> {
  return apply('sum', [x], { axes: normalizeAxes(axes, x.shape.length, 'sum'), keepDims });
}

export function mean<S>(x: Tensor<S>, axes?: number[], keepDims = false): Tensor<S> {
  const ax = normalizeAxes(axes, x.shape.length, 'mean');
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  return scale(sum(x, ax, keepDims), 1 / count);
}

/** x NHWC, w HWIO ([kh, kw, cin, cout]), bias [cout]. */
export function conv2d<S>(x: Tensor<S>, w: Tensor<S>, bias: Tensor<S> | null, stride = 1, pad = 0): Tensor<S> {
  return apply('conv2d', [x, w, bias ?? undefined], { stride, pad });
}

export interface BatchNormArgs<S> {
  gamma: Tensor<S>;
  beta: Tensor<S>;
  runningMean: Tensor<S>;
  runningVar: Tensor<S>;
  training: boolean;
  eps?: number;
  momentum?: number;
  fuse?: BnFuse;
  residual?: Tensor<S>;
}

export function batchNorm<S>(x: Tensor<S>, a: BatchNormArgs<S>): Tensor<S> {
  return apply('batchNorm', [x, a.gamma, a.beta, a.runningMean, a.runningVar, a.residual], {
    eps: a.eps ?? 1e-5,
    momentum: a.momentum ?? 0.1,
    fuse: a.fuse ?? 'none',
    training: a.training,
  });
}

export const maxPool2d = <S>(x: Tensor<S>, k = 3, stride = 2, pad = 1): Tensor<S> => apply('maxPool2d', [x], { k, stride, pad });
export const upsample2x = <S>(x: Tensor<S>): Tensor<S> => apply('upsample2x', [x], none);
export const concat = <S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> => apply('concat', [a, b], none);

/** Weighted mean BCE with logits over [n, ...] logits and targets, one weight per sample. */
export const sigmoidBce = <S>(logits: Tensor<S>, targets: Tensor<S>, weights: Tensor<S>): Tensor<S> =>
  apply('sigmoidBce', [logits, targets, weights], none);

/**
 * x / max(||x||_2, eps) along the last axis, for any shape (PyTorch's F.normalize(x, dim=-1, eps)): each
 * cell of an NHWC feature map is normalised over its channels.
 */
export const l2Normalize = <S>(x: Tensor<S>, eps = 1e-12): Tensor<S> => apply('l2Normalize', [x], { eps });

/**
 * 1 at the k largest entries of each row of x [rows, cols], 0 elsewhere; equal values go to the lower
 * column, so every row has exactly k ones (1 <= k <= cols). The hardest pixels of hard-negative mining.
 * Not differentiable: the result is a constant (recorded on no tape) whatever x requires.
 */
export const topkMask = <S>(x: Tensor<S>, k: number): Tensor<S> => noGrad(() => apply('topkMask', [x], { k }));
