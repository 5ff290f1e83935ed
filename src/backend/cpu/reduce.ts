// CPU reference: sum over axes (kept as size-1 dimensions).
import { type Shape, sizeOf } from '../../core/geometry.js';
import { stridesOf } from './strides.js';

export function reduceSum(x: Float64Array, shape: Shape, axes: readonly number[]): Float64Array {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(sizeOf(outShape));
  const xs = stridesOf(shape);
  const os = stridesOf(outShape);
  const size = sizeOf(shape);
  for (let i = 0; i < size; i++) {
    let rem = i;
    let o = 0;
    for (let d = 0; d < shape.length; d++) {
      const q = Math.floor(rem / xs[d]!);
      rem -= q * xs[d]!;
      if (!axes.includes(d)) o += q * os[d]!;
    }
    out[o] += x[i]!;
  }
  return out;
}
