// Adam (with bias correction and decoupled weight decay), in place. One dispatch over a whole arena;
// where the arena is larger than one storage binding may be (128 MiB on lavapipe), a few dispatches
// over aligned sub-ranges. Shader: shaders/adam.wgsl.
import type { AdamHyper } from '../backend/backend.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';

const GROUP = 256;
const BYTES = 4;

export interface ElementRange {
  start: number;
  count: number;
}

/**
 * Cuts `size` float32 elements into ranges whose bytes fit `maxBindingBytes` and whose starts are
 * multiples of `alignBytes` (the binding offset alignment). One range when everything fits.
 */
export function bindingRanges(size: number, maxBindingBytes: number, alignBytes: number): ElementRange[] {
  const perRange = (Math.floor(maxBindingBytes / alignBytes) * alignBytes) / BYTES;
  if (perRange < 1) throw new Error(`bindingRanges: a binding of ${maxBindingBytes} bytes holds no aligned element`);
  const ranges: ElementRange[] = [];
  for (let start = 0; start < size; start += perRange) ranges.push({ start, count: Math.min(perRange, size - start) });
  return ranges;
}

function subRange(ref: BufferRef, r: ElementRange): BufferRef {
  return { buffer: ref.buffer, offset: ref.offset + r.start * BYTES, size: r.count * BYTES };
}

/** Adam over `size` elements of each buffer, binding at most `maxBindingBytes` of each per dispatch. */
export function adamInRanges(
  gpu: Gpu, params: BufferRef, grads: BufferRef, m: BufferRef, v: BufferRef, size: number, h: AdamHyper, maxBindingBytes: number,
): void {
  if (!(Number.isInteger(h.step) && h.step >= 1)) throw new Error(`adam: step ${h.step} must be an integer >= 1 (bias correction)`);
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  for (const [name, ref] of [['params', params], ['grads', grads], ['m', m], ['v', v]] as const) {
    if (ref.size < size * BYTES) throw new Error(`adam: ${name} holds ${ref.size / BYTES} elements, not ${size}`);
    if (ref.offset % align !== 0) throw new Error(`adam: ${name} starts at byte ${ref.offset}, not a multiple of ${align}`);
  }
  for (const r of bindingRanges(size, maxBindingBytes, align)) {
    const uniforms = new Uniforms(12)
      .u32(r.count)
      .f32(h.lr, h.beta1, h.beta2, 1 - h.beta1, 1 - h.beta2, h.eps, h.weightDecay)
      .f32(1 - h.beta1 ** h.step, 1 - h.beta2 ** h.step);
    gpu.dispatch({
      kernel: 'adam',
      shader: 'adam.wgsl',
      uniforms: uniforms.bytes(),
      buffers: [params, grads, m, v].map((ref) => subRange(ref, r)),
      workgroups: grid1d(r.count, GROUP),
    });
  }
}

export function adam(gpu: Gpu, params: BufferRef, grads: BufferRef, m: BufferRef, v: BufferRef, size: number, h: AdamHyper): void {
  adamInRanges(gpu, params, grads, m, v, size, h, gpu.limits.maxStorageBufferBindingSize);
}
