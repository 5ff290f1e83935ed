// The CPU backend: plain TypeScript in float64, the reference that every GPU kernel is tested against.
// Each family of kernels lives in its own file beside this one; this class only routes to them.
import type { Backend } from '../backend.js';
import type { AdamHyper, BinaryOp, BnFuse, ParamArena, UnaryOp } from '../../core/types.js';
import type { BatchNormGeometry, BceGeometry, Conv2dGeometry, MatmulGeometry, PoolGeometry, Shape, SpatialGeometry } from '../../core/geometry.js';
import { adam } from './adam.js';
import { batchNormBackward, batchNormEval, batchNormTrain } from './batchnorm.js';
import { concatChannels, concatChannelsBackward, upsample2x, upsample2xBackward } from './resample.js';
import { conv2d, conv2dBiasGrad } from './conv2d.js';
import { conv2dInputGrad, conv2dWeightGrad } from './conv2dGrad.js';
import { binary, reluGrad, scale, unary } from './elementwise.js';
import { sigmoidBce, sigmoidBceBackward } from './loss.js';
import { matmul } from './matmul.js';
import { l2Normalize, l2NormalizeBackward } from './normalize.js';
import { maxPool2d, maxPool2dBackward } from './pool.js';
import { reduceSum } from './reduce.js';

type S = Float64Array;

export class CpuBackend implements Backend<S> {
  readonly name = 'cpu' as const;

  alloc(size: number): S {
    return new Float64Array(size);
  }
  upload(data: ArrayLike<number>): S {
    return Float64Array.from(data);
  }
  async download(s: S, size: number): Promise<Float64Array> {
    return s.slice(0, size);
  }
  free(_s: S): void {}
  fill(value: number, size: number): S {
    return new Float64Array(size).fill(value);
  }
  write(dst: S, data: ArrayLike<number>): void {
    dst.set(data);
  }
  copy(src: S, dst: S, size: number): void {
    dst.set(src.subarray(0, size));
  }
  arena(sizes: readonly number[]): ParamArena<S> {
    const whole = new Float64Array(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    const slices = sizes.map((n) => whole.subarray(offset, (offset += n)));
    return { slices, whole, size: whole.length, destroy: () => {} };
  }

  binary(op: BinaryOp, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape): S {
    return binary(op, a, aShape, b, bShape, outShape);
  }
  unary(op: UnaryOp, x: S, size: number): S {
    return unary(op, x, size);
  }
  scale(x: S, alpha: number, size: number): S {
    return scale(x, alpha, size);
  }
  reluGrad(x: S, dy: S, size: number): S {
    return reluGrad(x, dy, size);
  }
  reduceSum(x: S, shape: Shape, axes: readonly number[]): S {
    return reduceSum(x, shape, axes);
  }
  matmul(a: S, b: S, g: MatmulGeometry): S {
    return matmul(a, b, g);
  }

  conv2d(x: S, w: S, bias: S | null, g: Conv2dGeometry): S {
    return conv2d(x, w, bias, g);
  }
  conv2dInputGrad(dy: S, w: S, g: Conv2dGeometry): S {
    return conv2dInputGrad(dy, w, g);
  }
  conv2dWeightGrad(x: S, dy: S, g: Conv2dGeometry): S {
    return conv2dWeightGrad(x, dy, g);
  }
  conv2dBiasGrad(dy: S, g: Conv2dGeometry): S {
    return conv2dBiasGrad(dy, g);
  }

  batchNormTrain(x: S, gamma: S, beta: S, rm: S, rv: S, residual: S | null, g: BatchNormGeometry, fuse: BnFuse) {
    return batchNormTrain(x, gamma, beta, rm, rv, residual, g, fuse);
  }
  batchNormEval(x: S, gamma: S, beta: S, rm: S, rv: S, residual: S | null, g: BatchNormGeometry, fuse: BnFuse): S {
    return batchNormEval(x, gamma, beta, rm, rv, residual, g, fuse);
  }
  batchNormBackward(dy: S, x: S, y: S, mean: S, invStd: S, gamma: S, g: BatchNormGeometry, fuse: BnFuse) {
    return batchNormBackward(dy, x, y, mean, invStd, gamma, g, fuse);
  }

  maxPool2d(x: S, g: PoolGeometry): S {
    return maxPool2d(x, g);
  }
  maxPool2dBackward(x: S, dy: S, g: PoolGeometry): S {
    return maxPool2dBackward(x, dy, g);
  }
  upsample2x(x: S, g: SpatialGeometry): S {
    return upsample2x(x, g);
  }
  upsample2xBackward(dy: S, g: SpatialGeometry): S {
    return upsample2xBackward(dy, g);
  }
  concatChannels(a: S, b: S, g: SpatialGeometry, ca: number, cb: number): S {
    return concatChannels(a, b, g, ca, cb);
  }
  concatChannelsBackward(dy: S, g: SpatialGeometry, ca: number, cb: number) {
    return concatChannelsBackward(dy, g, ca, cb);
  }

  l2Normalize(x: S, rows: number, dim: number, eps: number) {
    return l2Normalize(x, rows, dim, eps);
  }
  l2NormalizeBackward(dy: S, y: S, norm: S, rows: number, dim: number, eps: number): S {
    return l2NormalizeBackward(dy, y, norm, rows, dim, eps);
  }

  sigmoidBce(logits: S, targets: S, weights: S, g: BceGeometry): S {
    return sigmoidBce(logits, targets, weights, g);
  }
  sigmoidBceBackward(logits: S, targets: S, weights: S, dloss: S, g: BceGeometry): S {
    return sigmoidBceBackward(logits, targets, weights, dloss, g);
  }

  adam(params: S, grads: S, m: S, v: S, size: number, h: AdamHyper): void {
    adam(params, grads, m, v, size, h);
  }
}
