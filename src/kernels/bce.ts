// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { BceGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function sigmoidBce(_gpu: Gpu, _logits: BufferRef, _targets: BufferRef, _weights: BufferRef, _g: BceGeometry): BufferRef {
  throw new Error('sigmoidBce: kernel not implemented yet');
}

export function sigmoidBceBackward(_gpu: Gpu, _logits: BufferRef, _targets: BufferRef, _weights: BufferRef, _dloss: BufferRef, _g: BceGeometry): BufferRef {
  throw new Error('sigmoidBceBackward: kernel not implemented yet');
}

