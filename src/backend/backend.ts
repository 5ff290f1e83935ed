// The Backend interface: every primitive kernel the engine runs, with a named, documented contract.
// Two implementations: WebGPU (src/backend/webgpu/, binding the kernels of src/kernels/) and CPU
// (src/backend/cpu/, plain TypeScript in float64, the oracle of every GPU test).
//
// Layouts: activations are channels-last (NHWC); conv weights are HWIO ([kh, kw, cin, cout], converted
// from PyTorch's OIHW once at load and save); vectors (bias, gamma, beta, running stats) are [c].
// Storage is opaque here: a GPU byte range (BufferRef) or a Float64Array.
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
import type { AdamHyper, BinaryOp, BnFuse, ParamArena, UnaryOp } from '../core/types.js';

/**
 * A backend: its name, its storage and its kernels. Members are function-typed properties, not methods,
 * so Backend<S> is invariant in S (methods would be checked bivariantly): a Backend<BufferRef> is not
 * a Backend<unknown>, and a model built for one storage cannot be materialized on another.
 */
export interface Backend<S = unknown> extends BackendStorage<S>, BackendKernels<S> {
  readonly name: 'webgpu' | 'cpu';
}

/** Storage: the only part of a backend that is not a kernel. */
export interface BackendStorage<S> {
  // ---- storage (sizes in elements; values float32 on the GPU, float64 on the CPU) ----------------
  /** New storage of `size` elements; contents unspecified. */
  alloc: (size: number) => S;
  upload: (data: ArrayLike<number>) => S;
  download: (s: S, size: number) => Promise<Float64Array>;
  /** Returns storage to its pool; the caller never uses it again. */
  free: (s: S) => void;
  fill: (value: number, size: number) => S;
  /** Overwrites existing storage with host values (loading weights; never inside a step). */
  write: (dst: S, data: ArrayLike<number>) => void;
  /** dst[0:size] = src[0:size], recorded in order with the kernels. */
  copy: (src: S, dst: S, size: number) => void;
  /** A zero-initialised arena with one slice per entry of `sizes` (elements). */
  arena: (sizes: readonly number[]) => ParamArena<S>;
}

/**
 * The kernels: each implementation is a table of these (src/backend/cpu/index.ts, src/backend/webgpu/index.ts)
 * checked against this interface, so a kernel missing from either does not compile.
 */
export interface BackendKernels<S> {
  // ---- elementwise, reduction, matmul (engine foundation) ----------------------------------------
  /** out = a op b with NumPy broadcasting; shapes of at most 6 dimensions. */
  binary: (op: BinaryOp, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape) => S;
  /** out = op(x), elementwise. */
  unary: (op: UnaryOp, x: S, size: number) => S;
  /** out = alpha * x. */
  scale: (x: S, alpha: number, size: number) => S;
  /** dx = dy where x > 0, else 0. */
  reluGrad: (x: S, dy: S, size: number) => S;
  /** Sum over `axes`, keeping them as size-1 dimensions (the caller reshapes). */
  reduceSum: (x: S, shape: Shape, axes: readonly number[]) => S;
  /** C[m, n] = sum_k op(A)[m, k] op(B)[k, n], op = optional transpose of the stored matrix. */
  matmul: (a: S, b: S, g: MatmulGeometry) => S;

  // ---- convolution (NHWC activations, HWIO weights) ----------------------------------------------
  /** y[n, oh, ow, co] = bias[co] + sum x[n, oh*s - p + i, ow*s - p + j, ci] * w[i, j, ci, co]. */
  conv2d: (x: S, w: S, bias: S | null, g: Conv2dGeometry) => S;
  /** dx from dy and w: the transposed convolution of the forward. */
  conv2dInputGrad: (dy: S, w: S, g: Conv2dGeometry) => S;
  /** dw[i, j, ci, co] = sum over n, oh, ow of x[...] * dy[n, oh, ow, co]; deterministic (no atomics). */
  conv2dWeightGrad: (x: S, dy: S, g: Conv2dGeometry) => S;
  /** dbias[co] = sum over n, oh, ow of dy. */
  conv2dBiasGrad: (dy: S, g: Conv2dGeometry) => S;

  // ---- batch norm (per channel over n, h, w) -----------------------------------------------------
  /**
   * Training forward with batch statistics: y = fuse(gamma * (x - mean) * invStd + beta [+ residual]),
   * normalising with the biased variance. Updates runningMean/runningVar in place as PyTorch does
   * (momentum, unbiased variance). Returns y and the saved mean and invStd ([c] each).
   */
  batchNormTrain: (
    x: S, gamma: S, beta: S, runningMean: S, runningVar: S, residual: S | null, g: BatchNormGeometry, fuse: BnFuse,
  ) => { y: S; mean: S; invStd: S };
  /** Inference forward with the running statistics. */
  batchNormEval: (
    x: S, gamma: S, beta: S, runningMean: S, runningVar: S, residual: S | null, g: BatchNormGeometry, fuse: BnFuse,
  ) => S;
  /**
   * Backward of batchNormTrain. `y` is the forward's output (its sign gives the ReLU mask when fused).
   * dresidual is the gradient reaching the residual input (add-relu only), else null.
   */
  batchNormBackward: (
    dy: S, x: S, y: S, mean: S, invStd: S, gamma: S, g: BatchNormGeometry, fuse: BnFuse,
  ) => { dx: S; dgamma: S; dbeta: S; dresidual: S | null };

  // ---- pooling, resampling, concat ---------------------------------------------------------------
  /** Max-pool (kernel k, stride, padding with -inf); ties go to the first element in the window. */
  maxPool2d: (x: S, g: PoolGeometry) => S;
  /** dx: each window's dy goes to its first maximum. */
  maxPool2dBackward: (x: S, dy: S, g: PoolGeometry) => S;
  /** Nearest-neighbour upsampling by 2 in h and w. */
  upsample2x: (x: S, g: SpatialGeometry) => S;
  /** dx[n, h, w, c] = sum of the 2x2 block of dy it was copied to. */
  upsample2xBackward: (dy: S, g: SpatialGeometry) => S;
  /** Channel concat: out[..., 0:ca] = a, out[..., ca:ca+cb] = b. */
  concatChannels: (a: S, b: S, g: SpatialGeometry, ca: number, cb: number) => S;
  concatChannelsBackward: (dy: S, g: SpatialGeometry, ca: number, cb: number) => { da: S; db: S };

  // ---- normalisation along the last axis -------------------------------------------------------
  /**
   * L2 normalisation of `rows` contiguous rows of `dim` elements (PyTorch's F.normalize(x, dim=-1, eps)):
   * y[r, :] = x[r, :] / max(||x[r, :]||_2, eps). Also returns norm = ||x[r, :]||_2 per row ([rows],
   * unclamped), saved for the backward. Right for any finite row: no square may overflow or underflow.
   */
  l2Normalize: (x: S, rows: number, dim: number, eps: number) => { y: S; norm: S };
  /**
   * Backward of l2Normalize from its output y and saved norm n: dx = (dy - y <dy, y>) / n where n > eps,
   * dx = dy / eps where the forward clamped (n <= eps).
   */
  l2NormalizeBackward: (dy: S, y: S, norm: S, rows: number, dim: number, eps: number) => S;

  // ---- selection ---------------------------------------------------------------------------------
  /**
   * Top-k mask of `rows` contiguous rows of `cols` elements: 1 at the k largest of each row, 0 elsewhere;
   * equal values (-0 and +0 too) go to the lower column, so each row has exactly k ones. 1 <= k <= cols.
   * A selection: it has no gradient.
   */
  topkMask: (x: S, g: TopkGeometry) => S;

  // ---- loss --------------------------------------------------------------------------------------
  /**
   * Weighted BCE with logits, sigmoid fused, stable for any finite logit:
   * loss = sum_i w_i * mean_p bce(x[i, p], t[i, p]) / sum_i w_i. Returns 1 element.
   */
  sigmoidBce: (logits: S, targets: S, weights: S, g: BceGeometry) => S;
  /** dlogits = dloss * w_i * (sigmoid(x) - t) / (perSample * sum_i w_i); dloss is 1 element. */
  sigmoidBceBackward: (logits: S, targets: S, weights: S, dloss: S, g: BceGeometry) => S;

  // ---- optimizer ---------------------------------------------------------------------------------
  /** Adam with bias correction (and decoupled weight decay), in place over `size` elements. */
  adam: (params: S, grads: S, m: S, v: S, size: number, h: AdamHyper) => void;
}
