// Whether a memory-bound kernel may run its vec4 variant: on lavapipe every storage access costs a loop
// over the SIMD lanes, so one vec4 access instead of four f32 ones is most of the speed of the
// elementwise kernels (batch norm, upsample, concat, Adam).
import type { BufferRef } from '../gpu/gpu.js';

/** Floats in one vec4: the unit of the VEC4 shader variants. */
export const VEC = 4;
/** Byte alignment a binding needs to be read as array<vec4<f32>>. */
const VEC_BYTES = VEC * 4;

/**
 * Floats per shader element: VEC when every count (channels, or a range's length) is a multiple of it and
 * every binding starts on a vec4 boundary (an arena slice is aligned only to the adapter's
 * minStorageBufferOffsetAlignment, which may be below 16), else 1 (the scalar variant).
 */
export function elementWidth(counts: readonly number[], refs: readonly (BufferRef | null)[]): number {
  return counts.every((c) => c % VEC === 0) && refs.every((r) => !r || r.offset % VEC_BYTES === 0) ? VEC : 1;
}
