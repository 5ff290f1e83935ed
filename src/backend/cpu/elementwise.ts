// CPU reference: broadcasting binary ops, unary ops, scale, ReLU gradient, fill.
import type { BinaryOp } from '../../core/types.js';
import type { UnaryOp } from '../../kernels/elementwise.js';
import { type Shape, sizeOf } from '../../core/geometry.js';
import { broadcastStrides, stridesOf } from './strides.js';

export function binary(op: BinaryOp, a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, outShape: Shape): Float64Array {
  const size = sizeOf(outShape);
  const out = new Float64Array(size);
  const os = stridesOf(outShape);
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  for (let i = 0; i < size; i++) {
    let rem = i;
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < outShape.length; d++) {
      const q = Math.floor(rem / os[d]!);
      rem -= q * os[d]!;
      ia += q * as[d]!;
      ib += q * bs[d]!;
    }
    const x = a[ia]!;
    const y = b[ib]!;
    out[i] = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
  }
  return out;
}

const UNARY: Record<UnaryOp, (x: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
};

export function unary(op: UnaryOp, x: Float64Array, size: number): Float64Array {
  const f = UNARY[op];
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = f(x[i]!);
  return out;
}

export function scale(x: Float64Array, alpha: number, size: number): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = alpha * x[i]!;
  return out;
}

export function reluGrad(x: Float64Array, dy: Float64Array, size: number): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = x[i]! > 0 ? dy[i]! : 0;
  return out;
}
