// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { AdamHyper } from '../backend/backend.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function adam(_gpu: Gpu, _params: BufferRef, _grads: BufferRef, _m: BufferRef, _v: BufferRef, _size: number, _h: AdamHyper): void {
  throw new Error('adam: kernel not implemented yet');
}

