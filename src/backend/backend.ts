// The Backend interface: a backend's name, its storage and how it runs a kernel. Two implementations:
// WebGPU (src/backend/webgpu/: storage is a byte range of a GPU buffer, a kernel records a dispatch) and
// CPU (src/backend/cpu/: plain TypeScript in float64, the oracle of every GPU test). The kernels
// themselves, each with its contract and both implementations, are in ./kernels.ts (defined with
// ./kernel.ts); a kernel of one op may be defined at its op-table entry instead.
//
// Layouts: activations are channels-last (NHWC); conv weights are HWIO ([kh, kw, cin, cout], converted
// from PyTorch's OIHW once at load and save); vectors (bias, gamma, beta, running stats) are [c].
// Storage is opaque here: a GPU byte range (BufferRef) or a Float64Array.
import type { ParamArena } from '../core/types.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';
import type { TuningTable } from '../gpu/tuning.js';

/**
 * A backend: its name, its storage and how it runs a kernel. Members are function-typed properties, not
 * methods, so Backend<S> is invariant in S (methods would be checked bivariantly): a Backend<BufferRef>
 * is not a Backend<unknown>, and a model built for one storage cannot be materialized on another.
 */
export interface Backend<S = unknown> extends BackendStorage<S> {
  readonly name: 'webgpu' | 'cpu';
  /** Runs a kernel's implementation for this backend (kernel.ts: call the kernel, not this). */
  dispatch: (kernel: KernelDef, args: readonly unknown[]) => unknown;
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


// ---- what a kernel is to a backend (./kernel.ts defines kernels with these) ----------------------

declare const STORAGE: unique symbol;
/** The storage of a kernel's contract: a GPU byte range (BufferRef) on WebGPU, a Float64Array on the CPU. */
export interface St {
  readonly [STORAGE]: 'storage';
}

/** T with every St in it (arguments, tuples, members of a result) replaced by the storage S. */
export type On<T, S> = T extends St
  ? S
  : T extends readonly unknown[]
    ? { [I in keyof T]: On<T[I], S> }
    : T extends object
      ? { [P in keyof T]: On<T[P], S> }
      : T;

/** A contract's arguments over storage S. */
export type ArgsOn<A extends readonly unknown[], S> = { [I in keyof A]: On<A[I], S> };

/** What a WebGPU implementation is given besides its arguments: the device and the measured conv variants. */
export interface GpuSide {
  readonly gpu: Gpu;
  readonly tuning: TuningTable;
}

/** A real kernel: its two implementations, each typed by the contract (A: the arguments, R: the result). */
export interface NativeKernelDef<A extends readonly unknown[] = any, R = any> {
  /** Its name (the recording backend of test/autograd/ops.test.ts, error messages). */
  readonly id: string;
  /** The reference, in float64. */
  readonly cpu: (...args: ArgsOn<A, Float64Array>) => On<R, Float64Array>;
  /** The dispatch recorded into the step's command encoder. */
  readonly webgpu: (side: GpuSide, ...args: ArgsOn<A, BufferRef>) => On<R, BufferRef>;
}

/** A kernel built from other kernels: one implementation for every backend (Burn's default). */
export interface DerivedKernelDef<A extends readonly unknown[] = any, R = any> {
  readonly id: string;
  readonly derive: <S>(be: Backend<S>, ...args: ArgsOn<A, S>) => On<R, S>;
}

export type KernelDef<A extends readonly unknown[] = any, R = any> = NativeKernelDef<A, R> | DerivedKernelDef<A, R>;

/** Runs a kernel's implementation for `be`: the derived one, or the backend's own through `native`. */
export function runKernel<S>(be: Backend<S>, kernel: KernelDef, args: readonly unknown[], native: (k: NativeKernelDef) => unknown): unknown {
  return 'derive' in kernel ? kernel.derive(be, ...(args as never[])) : native(kernel);
}
