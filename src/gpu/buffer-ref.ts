// The one type every module of src/gpu/ that touches buffers shares: gpu.ts hands BufferRefs out,
// bind-groups.ts and readback.ts take them, so it lives below all three (no import circle).

/** A byte range of a GPU buffer: a whole pooled buffer, or one parameter's slice of an arena. */
export interface BufferRef {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}
