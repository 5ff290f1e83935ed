// Adam (with bias correction and decoupled weight decay), in place. One dispatch over a whole arena;
// where the arena is larger than one storage binding may be (128 MiB on lavapipe), a few dispatches
// over aligned sub-ranges. Shader: shaders/adam.wgsl.
import type { AdamHyper } from '../core/types.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { VEC, elementWidth } from './vec4.js';

const BYTES = 4;

/** Workgroup size and elements per invocation of one variant of shaders/adam.wgsl. */
export interface AdamShape {
  wg: number;
  /** Consecutive elements (vec4s in the vec4 variant) per invocation. */
  per: number;
}

/**
 * The vec4 variant. Measured on lavapipe (2 cores, shared with other jobs; CPU time per call, which
 * contention distorts less than wall time) over the UNet's 24.4M parameters: 2 consecutive vec4s per
 * invocation in workgroups of 128 took 137 ms, one vec4 in 64/128/256 took 151-169 ms, 4 vec4s
 * 182 ms, 2 vec4s strided by the workgroup size 158 ms (the scalar kernel: 301 ms). Whole mat4x4
 * loads (16 floats) were slower too (204 ms).
 */
const ADAM_VEC4_SHAPE: AdamShape = { wg: 128, per: 2 };
/**
 * The vec4 variant on a GPU (not measured: no GPU here): one vec4 per invocation, so that neighbouring
 * lanes touch neighbouring 16 bytes (coalesced), where lavapipe's 2 per invocation would leave gaps.
 */
const ADAM_VEC4_SHAPE_GPU: AdamShape = { wg: 256, per: 1 };
/** The scalar variant, for ranges that are not whole vec4s (rare: arenas are 16-byte aligned). */
const ADAM_SCALAR_SHAPE: AdamShape = { wg: 256, per: 1 };

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

/**
 * Adam over `size` elements of each buffer, binding at most `maxBindingBytes` of each per dispatch. A
 * range runs the vec4 variant where it is whole vec4s at 16-byte offsets in every buffer.
 */
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
    const buffers = [params, grads, m, v].map((ref) => subRange(ref, r));
    const vec4 = elementWidth([r.count], buffers) === VEC;
    const shape = vec4 ? (gpu.isSoftware ? ADAM_VEC4_SHAPE : ADAM_VEC4_SHAPE_GPU) : ADAM_SCALAR_SHAPE;
    const elements = vec4 ? r.count / 4 : r.count;
    const uniforms = new Uniforms(12)
      .u32(elements)
      .f32(h.lr, h.beta1, h.beta2, 1 - h.beta1, 1 - h.beta2, h.eps, h.weightDecay)
      .f32(1 - h.beta1 ** h.step, 1 - h.beta2 ** h.step);
    gpu.dispatch({
      kernel: 'adam',
      shader: 'adam.wgsl',
      defines: { VEC4: vec4, WG: shape.wg, PER: shape.per },
      uniforms: uniforms.bytes(),
      // The learning rate and bias corrections change every step: one buffer rewritten in place.
      uniformSlot: `adam:${r.start}`,
      buffers,
      workgroups: grid1d(Math.ceil(elements / shape.per), shape.wg),
    });
  }
}

export function adam(gpu: Gpu, params: BufferRef, grads: BufferRef, m: BufferRef, v: BufferRef, size: number, h: AdamHyper): void {
  adamInRanges(gpu, params, grads, m, v, size, h, gpu.limits.maxStorageBufferBindingSize);
}
