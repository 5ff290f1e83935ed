// The WebGPU backend: storage is a byte range of a GPU buffer (BufferRef); every kernel records a
// dispatch of a kernel module from src/kernels/ into the step's command encoder (each kernel's
// definition in ../kernels.ts names its module). Nothing here loops over elements.
import { type Backend, type GpuSide, type KernelDef, runKernel } from '../backend.js';
import type { ParamArena } from '../../core/types.js';
import { Arena } from '../../gpu/arena.js';
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import { TuningTable, adapterIdentity } from '../../gpu/tuning.js';
import { fill } from '../../kernels/elementwise.js';

type S = BufferRef;

const f32 = (data: ArrayLike<number>) => (data instanceof Float32Array ? data : Float32Array.from(data));

/** The WebGPU backend: storage and dispatch, as properties (Backend is invariant in its storage). */
export class WebGpuBackend implements Backend<S>, GpuSide {
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

  readonly dispatch = (kernel: KernelDef, args: readonly unknown[]): unknown =>
    runKernel(this, kernel, args, (k) => k.webgpu(this, ...(args as never[])));

  readonly alloc = (size: number): S => this.gpu.alloc(size * 4);
  readonly upload = (data: ArrayLike<number>): S => {
    const values = f32(data);
    const ref = this.gpu.alloc(values.byteLength, 'upload');
    this.gpu.write(ref, values);
    return ref;
  };
  readonly download = async (s: S, size: number): Promise<Float64Array> =>
    Float64Array.from(await this.gpu.readF32({ buffer: s.buffer, offset: s.offset, size: size * 4 }));
  readonly free = (s: S): void => this.gpu.release(s);
  readonly fill = (value: number, size: number): S => fill(this.gpu, value, size);
  readonly write = (dst: S, data: ArrayLike<number>): void => this.gpu.write(dst, f32(data));
  readonly copy = (src: S, dst: S, size: number): void => this.gpu.copy(src, dst, size * 4);
  readonly arena = (sizes: readonly number[]): ParamArena<S> => new Arena(this.gpu, sizes);
}
