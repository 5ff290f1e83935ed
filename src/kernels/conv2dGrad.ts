// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { Conv2dGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function conv2dInputGrad(_gpu: Gpu, _dy: BufferRef, _w: BufferRef, _g: Conv2dGeometry): BufferRef {
  throw new Error('conv2dInputGrad: kernel not implemented yet');
}

export function conv2dWeightGrad(_gpu: Gpu, _x: BufferRef, _dy: BufferRef, _g: Conv2dGeometry): BufferRef {
  throw new Error('conv2dWeightGrad: kernel not implemented yet');
}
