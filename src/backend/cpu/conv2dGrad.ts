// CPU reference: conv2dGrad. Not written yet: the kernels issue fills this in.
import type { Conv2dGeometry } from '../geometry.js';

export function conv2dInputGrad(_dy: Float64Array, _w: Float64Array, _g: Conv2dGeometry): Float64Array {
  throw new Error('conv2dInputGrad: CPU reference not implemented yet');
}

export function conv2dWeightGrad(_x: Float64Array, _dy: Float64Array, _g: Conv2dGeometry): Float64Array {
  throw new Error('conv2dWeightGrad: CPU reference not implemented yet');
}
