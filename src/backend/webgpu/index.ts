// The WebGPU backend: storage is a byte range of a GPU buffer (BufferRef); every op records a dispatch
// of a kernel from src/kernels/ into the step's command encoder. Nothing here loops over elements.
// GPU_KERNELS is the table of kernels, each taking the Gpu first and otherwise the Backend contract's
// arguments (checked against it), so this file holds no forwarders: bindKernels supplies the Gpu.
import type { Backend, BackendKernels, BackendStorage } from '../backend.js';
import { Arena } from '../../gpu/arena.js';
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import { TuningTable, adapterIdentity } from '../../gpu/tuning.js';
import { adam } from '../../kernels/adam.js';
import { batchNormBackward, batchNormEval, batchNormTrain } from '../../kernels/batchnorm.js';
import { concatChannels, concatChannelsBackward } from '../../kernels/concat.js';
import { conv2dBiasGrad, conv2dTiled } from '../../kernels/conv/forward.js';
import { conv2dInputGradTiled } from '../../kernels/conv/input-grad.js';
import { conv2dWeightGradTiled } from '../../kernels/conv/weight-grad.js';
import { binary, fill, unary } from '../../kernels/elementwise.js';
import { sigmoidBce, sigmoidBceBackward } from '../../kernels/bce.js';
import { l2Normalize, l2NormalizeBackward } from '../../kernels/l2normalize.js';
import { matmul } from '../../kernels/matmul.js';
import { maxPool2d, maxPool2dBackward } from '../../kernels/maxpool.js';
import { reduceSum } from '../../kernels/reduce.js';
import { chooseVariant } from '../../kernels/conv/index.js';
import { topkMask } from '../../kernels/topkMask.js';
import { upsample2x, upsample2xBackward } from '../../kernels/upsample.js';

type S = BufferRef;
type Kernels = BackendKernels<S>;
type GpuKernels = { [K in keyof Kernels]: (gpu: Gpu, ...args: Parameters<Kernels[K]>) => ReturnType<Kernels[K]> };

/** What runs each kernel, given the device; the conv kernels also take the backend's tuning table. */
function gpuKernels(tuning: TuningTable): GpuKernels {
  return {
    binary, unary, reduceSum, matmul, conv2dBiasGrad,
    scale: (gpu, x, alpha, size) => unary(gpu, 'scale', x, size, alpha),
    reluGrad: (gpu, x, dy, size) => binary(gpu, 'reluGrad', x, [size], dy, [size], [size]),
    // The conv kernels run the variant chooseVariant (src/kernels/conv/index.ts) picks for the layer from `tuning`.
    conv2d: (gpu, x, w, bias, g) => conv2dTiled(gpu, x, w, bias, g, chooseVariant('conv2d', gpu, tuning, g)),
    conv2dInputGrad: (gpu, dy, w, g) => conv2dInputGradTiled(gpu, dy, w, g, chooseVariant('conv2dInputGrad', gpu, tuning, g)),
    conv2dWeightGrad: (gpu, x, dy, g) => conv2dWeightGradTiled(gpu, x, dy, g, chooseVariant('conv2dWeightGrad', gpu, tuning, g)),
    batchNormTrain, batchNormEval, batchNormBackward,
    maxPool2d, maxPool2dBackward, upsample2x, upsample2xBackward, concatChannels, concatChannelsBackward,
    l2Normalize, l2NormalizeBackward,
    topkMask,
    sigmoidBce, sigmoidBceBackward,
    adam,
  };
}

/** The table with `gpu` supplied to every kernel. */
function bindKernels(gpu: Gpu, table: GpuKernels): Kernels {
  const bound = Object.entries(table).map(([name, run]) => [name, (...args: unknown[]) => (run as (gpu: Gpu, ...a: unknown[]) => unknown)(gpu, ...args)]);
  return Object.fromEntries(bound) as unknown as Kernels;
}

function gpuStorage(gpu: Gpu): BackendStorage<S> {
  const f32 = (data: ArrayLike<number>) => (data instanceof Float32Array ? data : Float32Array.from(data));
  return {
    alloc: (size) => gpu.alloc(size * 4),
    upload(data) {
      const values = f32(data);
      const ref = gpu.alloc(values.byteLength, 'upload');
      gpu.write(ref, values);
      return ref;
    },
    download: async (s, size) => Float64Array.from(await gpu.readF32({ buffer: s.buffer, offset: s.offset, size: size * 4 })),
    free: (s) => gpu.release(s),
    fill: (value, size) => fill(gpu, value, size),
    write: (dst, data) => gpu.write(dst, f32(data)),
    copy: (src, dst, size) => gpu.copy(src, dst, size * 4),
    arena: (sizes) => new Arena(gpu, sizes),
  };
}

export interface WebGpuBackend extends Backend<S> {}

export class WebGpuBackend {
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
    Object.assign(this, gpuStorage(gpu), bindKernels(gpu, gpuKernels(this.tuning)));
  }
}
