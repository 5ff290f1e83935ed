// The WebGPU backend: storage is a byte range of a GPU buffer (BufferRef); every op records a dispatch
// of a kernel from src/kernels/ into the step's command encoder. Nothing here loops over elements.
import type { Backend } from '../backend.js';
import type { AdamHyper, BinaryOp, BnFuse, ParamArena, UnaryOp } from '../../core/types.js';
import type { BatchNormGeometry, BceGeometry, Conv2dGeometry, MatmulGeometry, PoolGeometry, Shape, SpatialGeometry } from '../../core/geometry.js';
import { Arena } from '../../gpu/arena.js';
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import { TuningTable, adapterIdentity } from '../../gpu/tuning.js';
import { adam } from '../../kernels/adam.js';
import { batchNormBackward, batchNormEval, batchNormTrain } from '../../kernels/batchnorm.js';
import { concatChannels, concatChannelsBackward } from '../../kernels/concat.js';
import { conv2d, conv2dBiasGrad } from '../../kernels/conv2d.js';
import { conv2dInputGrad } from '../../kernels/conv2dInputGrad.js';
import { conv2dWeightGrad } from '../../kernels/conv2dWeightGrad.js';
import { binary, fill, unary } from '../../kernels/elementwise.js';
import { sigmoidBce, sigmoidBceBackward } from '../../kernels/bce.js';
import { l2Normalize, l2NormalizeBackward } from '../../kernels/l2normalize.js';
import { matmul } from '../../kernels/matmul.js';
import { maxPool2d, maxPool2dBackward } from '../../kernels/maxpool.js';
import { reduceSum } from '../../kernels/reduce.js';
import { upsample2x, upsample2xBackward } from '../../kernels/upsample.js';

type S = BufferRef;

export class WebGpuBackend implements Backend<S> {
  readonly name = 'webgpu' as const;

  /**
   * The measured kernel variants the convolutions run (src/gpu/tuning.ts loadAdapterTuning reads the
   * adapter's file); without one, an empty table: the heuristics.
   */
  readonly tuning: TuningTable;

  constructor(
    readonly gpu: Gpu,
    tuning?: TuningTable,
  ) {
    this.tuning = tuning ?? new TuningTable(adapterIdentity(gpu.summary));
  }

  alloc(size: number): S {
    return this.gpu.alloc(size * 4);
  }
  upload(data: ArrayLike<number>): S {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    const ref = this.gpu.alloc(f32.byteLength, 'upload');
    this.gpu.write(ref, f32);
    return ref;
  }
  async download(s: S, size: number): Promise<Float64Array> {
    const f32 = await this.gpu.readF32({ buffer: s.buffer, offset: s.offset, size: size * 4 });
    return Float64Array.from(f32);
  }
  free(s: S): void {
    this.gpu.release(s);
  }
  fill(value: number, size: number): S {
    return fill(this.gpu, value, size);
  }
  write(dst: S, data: ArrayLike<number>): void {
    this.gpu.write(dst, data instanceof Float32Array ? data : Float32Array.from(data));
  }
  copy(src: S, dst: S, size: number): void {
    this.gpu.copy(src, dst, size * 4);
  }
  arena(sizes: readonly number[]): ParamArena<S> {
    return new Arena(this.gpu, sizes);
  }

  binary(op: BinaryOp, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape): S {
    return binary(this.gpu, op, a, aShape, b, bShape, outShape);
  }
  unary(op: UnaryOp, x: S, size: number): S {
    return unary(this.gpu, op, x, size);
  }
  scale(x: S, alpha: number, size: number): S {
    return unary(this.gpu, 'scale', x, size, alpha);
  }
  reluGrad(x: S, dy: S, size: number): S {
    return binary(this.gpu, 'reluGrad', x, [size], dy, [size], [size]);
  }
  reduceSum(x: S, shape: Shape, axes: readonly number[]): S {
    return reduceSum(this.gpu, x, shape, axes);
  }
  matmul(a: S, b: S, g: MatmulGeometry): S {
    return matmul(this.gpu, a, b, g);
  }

  conv2d(x: S, w: S, bias: S | null, g: Conv2dGeometry): S {
    return conv2d(this.gpu, this.tuning, x, w, bias, g);
  }
  conv2dInputGrad(dy: S, w: S, g: Conv2dGeometry): S {
    return conv2dInputGrad(this.gpu, this.tuning, dy, w, g);
  }
  conv2dWeightGrad(x: S, dy: S, g: Conv2dGeometry): S {
    return conv2dWeightGrad(this.gpu, this.tuning, x, dy, g);
  }
  conv2dBiasGrad(dy: S, g: Conv2dGeometry): S {
    return conv2dBiasGrad(this.gpu, dy, g);
  }

  batchNormTrain(x: S, gamma: S, beta: S, rm: S, rv: S, residual: S | null, g: BatchNormGeometry, fuse: BnFuse) {
    return batchNormTrain(this.gpu, x, gamma, beta, rm, rv, residual, g, fuse);
  }
  batchNormEval(x: S, gamma: S, beta: S, rm: S, rv: S, residual: S | null, g: BatchNormGeometry, fuse: BnFuse): S {
    return batchNormEval(this.gpu, x, gamma, beta, rm, rv, residual, g, fuse);
  }
  batchNormBackward(dy: S, x: S, y: S, mean: S, invStd: S, gamma: S, g: BatchNormGeometry, fuse: BnFuse) {
    return batchNormBackward(this.gpu, dy, x, y, mean, invStd, gamma, g, fuse);
  }

  maxPool2d(x: S, g: PoolGeometry): S {
    return maxPool2d(this.gpu, x, g);
  }
  maxPool2dBackward(x: S, dy: S, g: PoolGeometry): S {
    return maxPool2dBackward(this.gpu, x, dy, g);
  }
  upsample2x(x: S, g: SpatialGeometry): S {
    return upsample2x(this.gpu, x, g);
  }
  upsample2xBackward(dy: S, g: SpatialGeometry): S {
    return upsample2xBackward(this.gpu, dy, g);
  }
  concatChannels(a: S, b: S, g: SpatialGeometry, ca: number, cb: number): S {
    return concatChannels(this.gpu, a, b, g, ca, cb);
  }
  concatChannelsBackward(dy: S, g: SpatialGeometry, ca: number, cb: number) {
    return concatChannelsBackward(this.gpu, dy, g, ca, cb);
  }

  l2Normalize(x: S, rows: number, dim: number, eps: number) {
    return l2Normalize(this.gpu, x, rows, dim, eps);
  }
  l2NormalizeBackward(dy: S, y: S, norm: S, rows: number, dim: number, eps: number): S {
    return l2NormalizeBackward(this.gpu, dy, y, norm, rows, dim, eps);
  }

  sigmoidBce(logits: S, targets: S, weights: S, g: BceGeometry): S {
    return sigmoidBce(this.gpu, logits, targets, weights, g);
  }
  sigmoidBceBackward(logits: S, targets: S, weights: S, dloss: S, g: BceGeometry): S {
    return sigmoidBceBackward(this.gpu, logits, targets, weights, dloss, g);
  }

  adam(params: S, grads: S, m: S, v: S, size: number, h: AdamHyper): void {
    adam(this.gpu, params, grads, m, v, size, h);
  }
}
