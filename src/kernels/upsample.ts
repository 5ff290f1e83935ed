// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { SpatialGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function upsample2x(_gpu: Gpu, _x: BufferRef, _g: SpatialGeometry): BufferRef {
  throw new Error('upsample2x: kernel not implemented yet');
}

export function upsample2xBackward(_gpu: Gpu, _dy: BufferRef, _g: SpatialGeometry): BufferRef {
  throw new Error('upsample2xBackward: kernel not implemented yet');
}

