// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { SpatialGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function concatChannels(_gpu: Gpu, _a: BufferRef, _b: BufferRef, _g: SpatialGeometry, _ca: number, _cb: number): BufferRef {
  throw new Error('concatChannels: kernel not implemented yet');
}

export function concatChannelsBackward(_gpu: Gpu, _dy: BufferRef, _g: SpatialGeometry, _ca: number, _cb: number): { da: BufferRef; db: BufferRef } {
  throw new Error('concatChannelsBackward: kernel not implemented yet');
}

