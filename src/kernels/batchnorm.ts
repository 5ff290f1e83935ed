// Not written yet: the kernels issue fills this in (WGSL in shaders/, test in test/kernels/).
import type { BnFuse } from '../backend/backend.js';
import type { BatchNormGeometry } from '../backend/geometry.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';

export function batchNormTrain(_gpu: Gpu, _x: BufferRef, _gamma: BufferRef, _beta: BufferRef, _rm: BufferRef, _rv: BufferRef, _residual: BufferRef | null, _g: BatchNormGeometry, _fuse: BnFuse): { y: BufferRef; mean: BufferRef; invStd: BufferRef } {
  throw new Error('batchNormTrain: kernel not implemented yet');
}

export function batchNormEval(_gpu: Gpu, _x: BufferRef, _gamma: BufferRef, _beta: BufferRef, _rm: BufferRef, _rv: BufferRef, _residual: BufferRef | null, _g: BatchNormGeometry, _fuse: BnFuse): BufferRef {
  throw new Error('batchNormEval: kernel not implemented yet');
}

export function batchNormBackward(_gpu: Gpu, _dy: BufferRef, _x: BufferRef, _y: BufferRef, _mean: BufferRef, _invStd: BufferRef, _gamma: BufferRef, _g: BatchNormGeometry, _fuse: BnFuse): { dx: BufferRef; dgamma: BufferRef; dbeta: BufferRef; dresidual: BufferRef | null } {
  throw new Error('batchNormBackward: kernel not implemented yet');
}

