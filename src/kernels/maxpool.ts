// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { PoolGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function maxPool2d(_gpu: Gpu, _x: BufferRef, _g: PoolGeometry): BufferRef {
  throw new Error('maxPool2d: kernel not implemented yet');
}

export function maxPool2dBackward(_gpu: Gpu, _x: BufferRef, _dy: BufferRef, _g: PoolGeometry): BufferRef {
  throw new Error('maxPool2dBackward: kernel not implemented yet');
}

