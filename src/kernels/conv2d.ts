// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { Conv2dGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function conv2d(_gpu: Gpu, _x: BufferRef, _w: BufferRef, _bias: BufferRef | null, _g: Conv2dGeometry): BufferRef {
  throw new Error('conv2d: kernel not implemented yet');
}

export function conv2dBiasGrad(_gpu: Gpu, _dy: BufferRef, _g: Conv2dGeometry): BufferRef {
  throw new Error('conv2dBiasGrad: kernel not implemented yet');
}

