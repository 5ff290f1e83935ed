// CPU reference: batchnorm. Not written yet: the kernels issue fills this in.
import type { BnFuse } from '../backend.js';
import type { BatchNormGeometry } from '../geometry.js';

export function batchNormTrain(_x: Float64Array, _gamma: Float64Array, _beta: Float64Array, _rm: Float64Array, _rv: Float64Array, _residual: Float64Array | null, _g: BatchNormGeometry, _fuse: BnFuse): { y: Float64Array; mean: Float64Array; invStd: Float64Array } {
  throw new Error('batchNormTrain: CPU reference not implemented yet');
}

export function batchNormEval(_x: Float64Array, _gamma: Float64Array, _beta: Float64Array, _rm: Float64Array, _rv: Float64Array, _residual: Float64Array | null, _g: BatchNormGeometry, _fuse: BnFuse): Float64Array {
  throw new Error('batchNormEval: CPU reference not implemented yet');
}

export function batchNormBackward(_dy: Float64Array, _x: Float64Array, _y: Float64Array, _mean: Float64Array, _invStd: Float64Array, _gamma: Float64Array, _g: BatchNormGeometry, _fuse: BnFuse): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array; dresidual: Float64Array | null } {
  throw new Error('batchNormBackward: CPU reference not implemented yet');
}

