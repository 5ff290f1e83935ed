// CPU reference: conv2d. Not written yet: the kernels issue fills this in.
import type { Conv2dGeometry } from '../geometry.js';

export function conv2d(_x: Float64Array, _w: Float64Array, _bias: Float64Array | null, _g: Conv2dGeometry): Float64Array {
  throw new Error('conv2d: CPU reference not implemented yet');
}

export function conv2dBiasGrad(_dy: Float64Array, _g: Conv2dGeometry): Float64Array {
  throw new Error('conv2dBiasGrad: CPU reference not implemented yet');
}

