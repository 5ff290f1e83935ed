// Elementwise kernels: broadcasting binary ops, unary ops, scale, ReLU gradient, fill.
// Shaders: shaders/binary.wgsl, shaders/unary.wgsl, shaders/fill.wgsl.
import type { BinaryOp } from '../core/types.js';
import { MAX_DIMS, type Shape, sizeOf } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';

const GROUP = 256;

const BINARY_EXPR: Record<BinaryOp | 'reluGrad', string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  // a is the forward input, b the incoming gradient.
  reluGrad: 'select(0.0, b, a > 0.0)',
};

/**
 * The functions of the unary kernel, as WGSL of x (and the uniform alpha). They name the unary ops: a
 * new one is a line here and its reference in src/backend/cpu/elementwise.ts (UNARY, typed by these).
 */
const UNARY_EXPR = {
  relu: 'max(x, 0.0)',
  // Stable for large |x|: exp of a non-positive number only.
  sigmoid: 'select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)',
  scale: 'alpha * x',
} satisfies Record<string, string>;

/** The element-wise functions the tape uses (the paste-weight clamp, the losses); scale has its own kernel. */
export type UnaryOp = Exclude<keyof typeof UNARY_EXPR, 'scale'>;

function stridesOf(shape: Shape): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Strides of `inShape` read through broadcasting into `outShape`, padded to MAX_DIMS. */
function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const own = stridesOf(inShape);
  const lead = outShape.length - inShape.length;
  const s = outShape.map((_, i) => (i < lead || inShape[i - lead] === 1 ? 0 : own[i - lead]!));
  return pad8(s);
}

function pad8(values: number[]): number[] {
  return [...values, ...new Array<number>(8 - values.length).fill(0)];
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function binary(gpu: Gpu, op: BinaryOp | 'reluGrad', a: BufferRef, aShape: Shape, b: BufferRef, bShape: Shape, outShape: Shape): BufferRef {
  if (outShape.length > MAX_DIMS) throw new Error(`${op}: more than ${MAX_DIMS} dimensions in [${outShape.join(', ')}]`);
  const size = sizeOf(outShape);
  const out = gpu.alloc(size * 4, op);
  const broadcast = !(sameShape(aShape, outShape) && sameShape(bShape, outShape));
  const u = new Uniforms(32).u32(size, outShape.length, 0, 0);
  u.u32(...pad8(stridesOf(outShape)), ...broadcastStrides(aShape, outShape), ...broadcastStrides(bShape, outShape));
  gpu.dispatch({
    kernel: op,
    shader: 'binary.wgsl',
    defines: { EXPR: BINARY_EXPR[op], BROADCAST: broadcast },
    uniforms: u.bytes(),
    buffers: [a, b, out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}

export function unary(gpu: Gpu, op: UnaryOp | 'scale', x: BufferRef, size: number, alpha = 0): BufferRef {
  const out = gpu.alloc(size * 4, op);
  gpu.dispatch({
    kernel: op,
    shader: 'unary.wgsl',
    defines: { EXPR: UNARY_EXPR[op] },
    uniforms: new Uniforms(4).u32(size).f32(alpha).bytes(),
    buffers: [x, out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}

export function fill(gpu: Gpu, value: number, size: number): BufferRef {
  const out = gpu.alloc(size * 4, 'fill');
  gpu.dispatch({
    kernel: 'fill',
    shader: 'fill.wgsl',
    uniforms: new Uniforms(4).u32(size).f32(value).bytes(),
    buffers: [out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}
