// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { MatmulGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function matmul(_gpu: Gpu, _a: BufferRef, _b: BufferRef, _g: MatmulGeometry): BufferRef {
  throw new Error('matmul: kernel not implemented yet');
}

