// The differentiable functions the model is written with. Primitives go through the op table;
// composites (mean, sub by scale, ...) are built from primitives and get their gradients for free.
import type { BnFuse } from '../core/types.js';
import { normalizeAxes } from '../core/geometry.js';
import { apply } from './ops.js';
import type { Tensor } from './tensor.js';

const none = {} as Record<string, never>;

export const add = (a: Tensor, b: Tensor): Tensor => apply('add', [a, b], none);
export const sub = (a: Tensor, b: Tensor): Tensor => apply('sub', [a, b], none);
export const mul = (a: Tensor, b: Tensor): Tensor => apply('mul', [a, b], none);
export const div = (a: Tensor, b: Tensor): Tensor => apply('div', [a, b], none);
export const sigmoid = (x: Tensor): Tensor => apply('sigmoid', [x], none);
export const scale = (x: Tensor, alpha: number): Tensor => apply('scale', [x], { alpha });
export const relu = (x: Tensor): Tensor => apply('relu', [x], none);
export const matmul = (a: Tensor, b: Tensor): Tensor => apply('matmul', [a, b], none);

export function sum(x: Tensor, axes?: number[], keepDims = false): Tensor {
  return apply('sum', [x], { axes: normalizeAxes(axes, x.shape.length, 'sum'), keepDims });
}

export function mean(x: Tensor, axes?: number[], keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.shape.length, 'mean');
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  return scale(sum(x, ax, keepDims), 1 / count);
}

/** x NHWC, w HWIO ([kh, kw, cin, cout]), bias [cout]. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, stride = 1, pad = 0): Tensor {
  return apply('conv2d', [x, w, bias ?? undefined], { stride, pad });
}

export interface BatchNormArgs {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  training: boolean;
  eps?: number;
  momentum?: number;
  fuse?: BnFuse;
  residual?: Tensor;
}

export function batchNorm(x: Tensor, a: BatchNormArgs): Tensor {
  return apply('batchNorm', [x, a.gamma, a.beta, a.residual], {
    eps: a.eps ?? 1e-5,
    momentum: a.momentum ?? 0.1,
    fuse: a.fuse ?? 'none',
    training: a.training,
    runningMean: a.runningMean,
    runningVar: a.runningVar,
  });
}

export const maxPool2d = (x: Tensor, k = 3, stride = 2, pad = 1): Tensor => apply('maxPool2d', [x], { k, stride, pad });
export const upsample2x = (x: Tensor): Tensor => apply('upsample2x', [x], none);
export const concat = (a: Tensor, b: Tensor): Tensor => apply('concat', [a, b], none);

/** Weighted mean BCE with logits over [n, ...] logits and targets, one weight per sample. */
export const sigmoidBce = (logits: Tensor, targets: Tensor, weights: Tensor): Tensor =>
  apply('sigmoidBce', [logits, targets, weights], none);

/**
 * x / max(||x||_2, eps) along the last axis, for any shape (PyTorch's F.normalize(x, dim=-1, eps)): each
 * cell of an NHWC feature map is normalised over its channels.
 */
export const l2Normalize = (x: Tensor, eps = 1e-12): Tensor => apply('l2Normalize', [x], { eps });
