// CPU reference: loss. Not written yet: the kernels issue fills this in.
import type { BceGeometry } from '../geometry.js';

export function sigmoidBce(_logits: Float64Array, _targets: Float64Array, _weights: Float64Array, _g: BceGeometry): Float64Array {
  throw new Error('sigmoidBce: CPU reference not implemented yet');
}

export function sigmoidBceBackward(_logits: Float64Array, _targets: Float64Array, _weights: Float64Array, _dloss: Float64Array, _g: BceGeometry): Float64Array {
  throw new Error('sigmoidBceBackward: CPU reference not implemented yet');
}

