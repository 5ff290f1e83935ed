// The CPU backend: plain TypeScript in float64, the reference that every GPU kernel is tested against.
// Its storage is a Float64Array; each kernel's reference is a function in a file beside this one, named
// by the kernel's definition (../kernels.ts), which dispatch() runs.
import { type Backend, type KernelDef, runKernel } from '../backend.js';
import type { ParamArena } from '../../core/types.js';

type S = Float64Array;

/** The CPU backend: storage and dispatch, as properties (Backend is invariant in its storage). */
export class CpuBackend implements Backend<S> {
  readonly name = 'cpu' as const;

  readonly dispatch = (kernel: KernelDef, args: readonly unknown[]): unknown => runKernel(this, kernel, args, (k) => k.cpu(...(args as never[])));

  readonly alloc = (size: number): S => new Float64Array(size);
  readonly upload = (data: ArrayLike<number>): S => Float64Array.from(data);
  readonly download = async (s: S, size: number): Promise<Float64Array> => s.slice(0, size);
  readonly free = (_s: S): void => {};
  readonly fill = (value: number, size: number): S => new Float64Array(size).fill(value);
  readonly write = (dst: S, data: ArrayLike<number>): void => dst.set(data);
  readonly copy = (src: S, dst: S, size: number): void => dst.set(src.subarray(0, size));

  readonly arena = (sizes: readonly number[]): ParamArena<S> => {
    const whole = new Float64Array(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    const slices = sizes.map((n) => whole.subarray(offset, (offset += n)));
    return { slices, whole, size: whole.length, destroy: () => {} };
  };
}
