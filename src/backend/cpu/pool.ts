// CPU reference: pool. Not written yet: the kernels issue fills this in.
import type { PoolGeometry } from '../geometry.js';

export function maxPool2d(_x: Float64Array, _g: PoolGeometry): Float64Array {
  throw new Error('maxPool2d: CPU reference not implemented yet');
}

export function maxPool2dBackward(_x: Float64Array, _dy: Float64Array, _g: PoolGeometry): Float64Array {
  throw new Error('maxPool2dBackward: CPU reference not implemented yet');
}

