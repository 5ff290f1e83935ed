// The CPU backend: plain TypeScript in float64, the reference that every GPU kernel is tested against.
// Each family of kernels lives in its own file beside this one; CPU_KERNELS is the table of them,
// checked against the Backend contract, so this file holds no forwarders.
import type { Backend, BackendKernels, BackendStorage } from '../backend.js';
import type { ParamArena } from '../../core/types.js';
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
import { topkMask } from './topk.js';

type S = Float64Array;

/** The reference of every kernel: the functions themselves, their signatures the contract's. */
export const CPU_KERNELS = {
  binary, unary, scale, reluGrad, reduceSum, matmul,
  conv2d, conv2dInputGrad, conv2dWeightGrad, conv2dBiasGrad,
  batchNormTrain, batchNormEval, batchNormBackward,
  maxPool2d, maxPool2dBackward, upsample2x, upsample2xBackward, concatChannels, concatChannelsBackward,
  l2Normalize, l2NormalizeBackward,
  topkMask,
  sigmoidBce, sigmoidBceBackward,
  adam,
} satisfies BackendKernels<S>;

const CPU_STORAGE: BackendStorage<S> = {
  alloc: (size) => new Float64Array(size),
  upload: (data) => Float64Array.from(data),
  download: async (s, size) => s.slice(0, size),
  free: () => {},
  fill: (value, size) => new Float64Array(size).fill(value),
  write: (dst, data) => dst.set(data),
  copy: (src, dst, size) => dst.set(src.subarray(0, size)),
  arena(sizes: readonly number[]): ParamArena<S> {
    const whole = new Float64Array(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    const slices = sizes.map((n) => whole.subarray(offset, (offset += n)));
    return { slices, whole, size: whole.length, destroy: () => {} };
  },
};

export interface CpuBackend extends Backend<S> {}

/** The CPU backend: its storage and CPU_KERNELS, as one object. */
export class CpuBackend {
  readonly name = 'cpu' as const;

  constructor() {
    Object.assign(this, CPU_STORAGE, CPU_KERNELS);
  }
}
