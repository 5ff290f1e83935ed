// What a kernel is: its contract, written once over a placeholder storage type `St`, and its two
// implementations, the CPU reference (float64) and the WebGPU dispatch. `kernel()` checks both against
// the contract and returns a function that runs the one of the backend it is given:
//
//   export const matmul = kernel<[a: St, b: St, g: MatmulGeometry], St>({ id: 'matmul', cpu, webgpu });
//   matmul(be, a, b, g); // Float64Array storage on the CPU backend, BufferRef on WebGPU
//
// So the shared table (./kernels.ts) or an op-table entry defines a kernel in one place, "go to
// definition" on a call lands on that definition, and it names each backend's function by its import.
import type { Gpu } from '../gpu/gpu.js';
import type { ArgsOn, Backend, DerivedKernelDef, GpuSide, KernelDef, NativeKernelDef, On } from './backend.js';

export type { ArgsOn, DerivedKernelDef, GpuSide, KernelDef, NativeKernelDef, On, St } from './backend.js';

/** A kernel: called with a backend and the contract's arguments over that backend's storage. */
export type Kernel<A extends readonly unknown[], R> = KernelDef<A, R> & (<S>(be: Backend<S>, ...args: ArgsOn<A, S>) => On<R, S>);

/** The definition's members on a function that runs it (a function's own `name` is read-only: defined, not assigned). */
function callable<A extends readonly unknown[], R>(def: KernelDef<A, R>): Kernel<A, R> {
  const run = (be: Backend<unknown>, ...args: unknown[]) => be.dispatch(def, args);
  const members = Object.fromEntries(Object.entries(def).map(([k, value]) => [k, { value, enumerable: true }]));
  return Object.defineProperties(run, members) as unknown as Kernel<A, R>;
}

/** Defines a kernel from its two implementations; the type arguments are its contract. */
export function kernel<A extends readonly unknown[], R>(def: NativeKernelDef<A, R>): Kernel<A, R> {
  return callable(def);
}

/**
 * Defines a kernel built from other kernels, once for every backend (Burn's default): only real GPU
 * kernels need an implementation per backend.
 */
export function derived<A extends readonly unknown[], R>(id: string, derive: DerivedKernelDef<A, R>['derive']): Kernel<A, R> {
  return callable<A, R>({ id, derive });
}

/** A WebGPU implementation from a kernel module's function, which takes the device first. */
export function onGpu<P extends unknown[], R>(fn: (gpu: Gpu, ...args: P) => R): (side: GpuSide, ...args: P) => R {
  return (side, ...args) => fn(side.gpu, ...args);
}
