// The shared kernels: each one's contract (the type arguments, over the storage placeholder St), what
// it computes, and its two implementations, the CPU reference (./cpu/) and the WebGPU kernel module
// (src/kernels/). Call one with a backend: `K.matmul(be, a, b, g)`. A kernel that only one op uses may
// be defined at its op-table entry instead (src/autograd/ops.ts), with the same `kernel()`.
//
// Layouts: activations are channels-last (NHWC); conv weights are HWIO ([kh, kw, cin, cout]); vectors
// (bias, gamma, beta, running stats) are [c].
import type {
  BatchNormGeometry,
  BceGeometry,
  Conv2dGeometry,
  MatmulGeometry,
  PoolGeometry,
  Shape,
  SpatialGeometry,
  TopkGeometry,
} from '../core/geometry.js';
import type { AdamHyper, BinaryOp, BnFuse } from '../core/types.js';
import * as gpuAdam from '../kernels/adam.js';
import * as gpuBatchNorm from '../kernels/batchnorm.js';
import * as gpuBce from '../kernels/bce.js';
import * as gpuConcat from '../kernels/concat.js';
import { conv2dTiled } from '../kernels/conv/forward.js';
import { chooseVariant } from '../kernels/conv/index.js';
import { conv2dInputGradTiled } from '../kernels/conv/input-grad.js';
import { conv2dWeightGradTiled } from '../kernels/conv/weight-grad.js';
import * as gpuElementwise from '../kernels/elementwise.js';
import * as gpuL2 from '../kernels/l2normalize.js';
import * as gpuMatmul from '../kernels/matmul.js';
import * as gpuPool from '../kernels/maxpool.js';
import * as gpuReduce from '../kernels/reduce.js';
import * as gpuTopk from '../kernels/topkMask.js';
import * as gpuUpsample from '../kernels/upsample.js';
import * as cpuAdam from './cpu/adam.js';
import * as cpuBatchNorm from './cpu/batchnorm.js';
import * as cpuConv from './cpu/conv2d.js';
import * as cpuConvGrad from './cpu/conv2dGrad.js';
import * as cpuElementwise from './cpu/elementwise.js';
import * as cpuLoss from './cpu/loss.js';
import * as cpuMatmul from './cpu/matmul.js';
import * as cpuNormalize from './cpu/normalize.js';
import * as cpuPool from './cpu/pool.js';
import * as cpuReduce from './cpu/reduce.js';
import * as cpuResample from './cpu/resample.js';
import * as cpuTopk from './cpu/topk.js';
import { type St, derived, kernel, onGpu } from './kernel.js';

export type { St } from './kernel.js';

// ---- elementwise, reduction, matmul (engine foundation) ------------------------------------------

/** out = a op b with NumPy broadcasting; shapes of at most 6 dimensions. */
export const binary = kernel<[op: BinaryOp, a: St, aShape: Shape, b: St, bShape: Shape, outShape: Shape], St>({
  id: 'binary', cpu: cpuElementwise.binary, webgpu: onGpu(gpuElementwise.binary),
});
/** out = op(x), elementwise (the ops: UNARY_EXPR in src/kernels/elementwise.ts, UNARY in ./cpu/elementwise.ts). */
export const unary = kernel<[op: gpuElementwise.UnaryOp, x: St, size: number], St>({
  id: 'unary', cpu: cpuElementwise.unary, webgpu: onGpu(gpuElementwise.unary),
});
/** out = alpha * x. */
export const scale = kernel<[x: St, alpha: number, size: number], St>({
  id: 'scale', cpu: cpuElementwise.scale, webgpu: (side, x, alpha, size) => gpuElementwise.unary(side.gpu, 'scale', x, size, alpha),
});
/** dx = dy where x > 0, else 0. */
export const reluGrad = kernel<[x: St, dy: St, size: number], St>({
  id: 'reluGrad', cpu: cpuElementwise.reluGrad, webgpu: (side, x, dy, size) => gpuElementwise.binary(side.gpu, 'reluGrad', x, [size], dy, [size], [size]),
});
/** Sum over `axes`, keeping them as size-1 dimensions (the caller reshapes). */
export const reduceSum = kernel<[x: St, shape: Shape, axes: readonly number[]], St>({
  id: 'reduceSum', cpu: cpuReduce.reduceSum, webgpu: onGpu(gpuReduce.reduceSum),
});
/** C[m, n] = sum_k op(A)[m, k] op(B)[k, n], op = optional transpose of the stored matrix. */
export const matmul = kernel<[a: St, b: St, g: MatmulGeometry], St>({
  id: 'matmul', cpu: cpuMatmul.matmul, webgpu: (side, a, b, g) => gpuMatmul.matmul(side.gpu, a, b, g),
});

// ---- convolution (NHWC activations, HWIO weights); WebGPU runs the variant the tuning table picks --

/** y[n, oh, ow, co] = bias[co] + sum x[n, oh*s - p + i, ow*s - p + j, ci] * w[i, j, ci, co]. */
export const conv2d = kernel<[x: St, w: St, bias: St | null, g: Conv2dGeometry], St>({
  id: 'conv2d', cpu: cpuConv.conv2d,
  webgpu: ({ gpu, tuning }, x, w, bias, g) => conv2dTiled(gpu, x, w, bias, g, chooseVariant('conv2d', gpu, tuning, g)),
});
/** dx from dy and w: the transposed convolution of the forward. */
export const conv2dInputGrad = kernel<[dy: St, w: St, g: Conv2dGeometry], St>({
  id: 'conv2dInputGrad', cpu: cpuConvGrad.conv2dInputGrad,
  webgpu: ({ gpu, tuning }, dy, w, g) => conv2dInputGradTiled(gpu, dy, w, g, chooseVariant('conv2dInputGrad', gpu, tuning, g)),
});
/** dw[i, j, ci, co] = sum over n, oh, ow of x[...] * dy[n, oh, ow, co]; deterministic (no atomics). */
export const conv2dWeightGrad = kernel<[x: St, dy: St, g: Conv2dGeometry], St>({
  id: 'conv2dWeightGrad', cpu: cpuConvGrad.conv2dWeightGrad,
  webgpu: ({ gpu, tuning }, x, dy, g) => conv2dWeightGradTiled(gpu, x, dy, g, chooseVariant('conv2dWeightGrad', gpu, tuning, g)),
});
/** dbias[co] = sum over n, oh, ow of dy: dy as [1, pixels, cout] summed over the middle axis (derived). */
export const conv2dBiasGrad = derived<[dy: St, g: Conv2dGeometry], St>('conv2dBiasGrad', (be, dy, g) =>
  reduceSum(be, dy, [1, g.n * g.oh * g.ow, g.cout], [1]),
);

// ---- batch norm (per channel over n, h, w) -------------------------------------------------------

type BnArgs = [x: St, gamma: St, beta: St, runningMean: St, runningVar: St, residual: St | null, g: BatchNormGeometry, fuse: BnFuse];
/**
 * Training forward with batch statistics: y = fuse(gamma * (x - mean) * invStd + beta [+ residual]),
 * normalising with the biased variance. Updates runningMean/runningVar in place as PyTorch does
 * (momentum, unbiased variance). Returns y and the saved mean and invStd ([c] each).
 */
export const batchNormTrain = kernel<BnArgs, { y: St; mean: St; invStd: St }>({
  id: 'batchNormTrain', cpu: cpuBatchNorm.batchNormTrain, webgpu: onGpu(gpuBatchNorm.batchNormTrain),
});
/** Inference forward with the running statistics. */
export const batchNormEval = kernel<BnArgs, St>({
  id: 'batchNormEval', cpu: cpuBatchNorm.batchNormEval, webgpu: onGpu(gpuBatchNorm.batchNormEval),
});
/**
 * Backward of batchNormTrain. `y` is the forward's output (its sign gives the ReLU mask when fused).
 * dresidual is the gradient reaching the residual input (add-relu only), else null.
 */
export const batchNormBackward = kernel<
  [dy: St, x: St, y: St, mean: St, invStd: St, gamma: St, g: BatchNormGeometry, fuse: BnFuse],
  { dx: St; dgamma: St; dbeta: St; dresidual: St | null }
>({ id: 'batchNormBackward', cpu: cpuBatchNorm.batchNormBackward, webgpu: onGpu(gpuBatchNorm.batchNormBackward) });

// ---- pooling, resampling, concat -----------------------------------------------------------------

/** Max-pool (kernel k, stride, padding with -inf); ties go to the first element in the window. */
export const maxPool2d = kernel<[x: St, g: PoolGeometry], St>({
  id: 'maxPool2d', cpu: cpuPool.maxPool2d, webgpu: onGpu(gpuPool.maxPool2d),
});
/** dx: each window's dy goes to its first maximum. */
export const maxPool2dBackward = kernel<[x: St, dy: St, g: PoolGeometry], St>({
  id: 'maxPool2dBackward', cpu: cpuPool.maxPool2dBackward, webgpu: onGpu(gpuPool.maxPool2dBackward),
});
/** Nearest-neighbour upsampling by 2 in h and w. */
export const upsample2x = kernel<[x: St, g: SpatialGeometry], St>({
  id: 'upsample2x', cpu: cpuResample.upsample2x, webgpu: onGpu(gpuUpsample.upsample2x),
});
/** dx[n, h, w, c] = sum of the 2x2 block of dy it was copied to. */
export const upsample2xBackward = kernel<[dy: St, g: SpatialGeometry], St>({
  id: 'upsample2xBackward', cpu: cpuResample.upsample2xBackward, webgpu: onGpu(gpuUpsample.upsample2xBackward),
});
/** Channel concat: out[..., 0:ca] = a, out[..., ca:ca+cb] = b. */
export const concatChannels = kernel<[a: St, b: St, g: SpatialGeometry, ca: number, cb: number], St>({
  id: 'concatChannels', cpu: cpuResample.concatChannels, webgpu: onGpu(gpuConcat.concatChannels),
});
export const concatChannelsBackward = kernel<[dy: St, g: SpatialGeometry, ca: number, cb: number], { da: St; db: St }>({
  id: 'concatChannelsBackward', cpu: cpuResample.concatChannelsBackward, webgpu: onGpu(gpuConcat.concatChannelsBackward),
});

// ---- normalisation along the last axis -----------------------------------------------------------

/**
 * L2 normalisation of `rows` contiguous rows of `dim` elements (PyTorch's F.normalize(x, dim=-1, eps)):
 * y[r, :] = x[r, :] / max(||x[r, :]||_2, eps). Also returns norm = ||x[r, :]||_2 per row ([rows],
 * unclamped), saved for the backward. Right for any finite row: no square may overflow or underflow.
 */
export const l2Normalize = kernel<[x: St, rows: number, dim: number, eps: number], { y: St; norm: St }>({
  id: 'l2Normalize', cpu: cpuNormalize.l2Normalize, webgpu: onGpu(gpuL2.l2Normalize),
});
/**
 * Backward of l2Normalize from its output y and saved norm n: dx = (dy - y <dy, y>) / n where n > eps,
 * dx = dy / eps where the forward clamped (n <= eps).
 */
export const l2NormalizeBackward = kernel<[dy: St, y: St, norm: St, rows: number, dim: number, eps: number], St>({
  id: 'l2NormalizeBackward', cpu: cpuNormalize.l2NormalizeBackward, webgpu: onGpu(gpuL2.l2NormalizeBackward),
});

// ---- selection -----------------------------------------------------------------------------------

/**
 * Top-k mask of `rows` contiguous rows of `cols` elements: 1 at the k largest of each row, 0 elsewhere;
 * equal values (-0 and +0 too) go to the lower column, so each row has exactly k ones. 1 <= k <= cols.
 * A selection: it has no gradient.
 */
export const topkMask = kernel<[x: St, g: TopkGeometry], St>({
  id: 'topkMask', cpu: cpuTopk.topkMask, webgpu: (side, x, g) => gpuTopk.topkMask(side.gpu, x, g),
});

// ---- loss ----------------------------------------------------------------------------------------

/**
 * Weighted BCE with logits, sigmoid fused, stable for any finite logit:
 * loss = sum_i w_i * mean_p bce(x[i, p], t[i, p]) / sum_i w_i. Returns 1 element.
 */
export const sigmoidBce = kernel<[logits: St, targets: St, weights: St, g: BceGeometry], St>({
  id: 'sigmoidBce', cpu: cpuLoss.sigmoidBce, webgpu: onGpu(gpuBce.sigmoidBce),
});
/** dlogits = dloss * w_i * (sigmoid(x) - t) / (perSample * sum_i w_i); dloss is 1 element. */
export const sigmoidBceBackward = kernel<[logits: St, targets: St, weights: St, dloss: St, g: BceGeometry], St>({
  id: 'sigmoidBceBackward', cpu: cpuLoss.sigmoidBceBackward, webgpu: onGpu(gpuBce.sigmoidBceBackward),
});

// ---- optimizer -----------------------------------------------------------------------------------

/** Adam with bias correction (and decoupled weight decay), in place over `size` elements. */
export const adam = kernel<[params: St, grads: St, m: St, v: St, size: number, h: AdamHyper], void>({
  id: 'adam', cpu: cpuAdam.adam, webgpu: onGpu(gpuAdam.adam),
});
