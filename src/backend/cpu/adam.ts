// CPU reference: adam. Not written yet: the kernels issue fills this in.
import type { AdamHyper } from '../backend.js';

export function adam(_params: Float64Array, _grads: Float64Array, _m: Float64Array, _v: Float64Array, _size: number, _h: AdamHyper): void {
  throw new Error('adam: CPU reference not implemented yet');
}

