// Shapes and geometries of the kernels, and the checks that run in TypeScript before anything is
// dispatched: a wrong shape is an Error naming both shapes, never a WebGPU validation message.

export type Shape = readonly number[];

export const MAX_DIMS = 6;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: Shape, what = 'tensor'): void {
  if (shape.length > MAX_DIMS) throw new Error(`${what}: shape ${fmt(shape)} has more than ${MAX_DIMS} dimensions`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: shape ${fmt(shape)} has a bad dimension ${d}`);
  }
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** The axes of `out` that were broadcast from `inShape` (to sum a gradient back to inShape). */
export function broadcastAxes(inShape: Shape, out: Shape): number[] {
  const axes: number[] = [];
  const lead = out.length - inShape.length;
  for (let i = 0; i < out.length; i++) {
    const d = i < lead ? 1 : inShape[i - lead]!;
    if (d === 1 && out[i] !== 1) axes.push(i);
  }
  return axes;
}

export function normalizeAxes(axes: readonly number[] | undefined, rank: number, op = 'reduce'): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) if (a < 0 || a >= rank) throw new Error(`${op}: axis ${a} out of range for rank ${rank}`);
  return [...new Set(out)].sort((x, y) => x - y);
}

export interface MatmulGeometry {
  m: number;
  n: number;
  k: number;
  /** A is stored [k, m] (read transposed). */
  transA: boolean;
  /** B is stored [n, k] (read transposed). */
  transB: boolean;
}

export function matmulGeometry(a: Shape, b: Shape, transA = false, transB = false): MatmulGeometry {
  if (a.length !== 2 || b.length !== 2) throw new Error(`matmul: needs 2-D operands, got ${fmt(a)} and ${fmt(b)}`);
  const [m, ka] = transA ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
  const [kb, n] = transB ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
  if (ka !== kb) throw new Error(`matmul: inner dimensions differ: ${fmt(a)}${transA ? 'ᵀ' : ''} x ${fmt(b)}${transB ? 'ᵀ' : ''}`);
  return { m, n, k: ka, transA, transB };
}

/** n, h, w, c of an NHWC activation. */
export interface SpatialGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
}

export function spatial(shape: Shape, what: string): SpatialGeometry {
  if (shape.length !== 4) throw new Error(`${what}: expects an NHWC tensor, got ${fmt(shape)}`);
  const [n, h, w, c] = shape as [number, number, number, number];
  return { n, h, w, c };
}

export interface Conv2dGeometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
  oh: number;
  ow: number;
  hasBias: boolean;
}

/** Geometry of conv2d(x NHWC, w HWIO): throws, naming both shapes, on any mismatch. */
export function conv2dGeometry(x: Shape, w: Shape, stride: number, pad: number, hasBias: boolean): Conv2dGeometry {
  const both = `input ${fmt(x)} (NHWC), weight ${fmt(w)} (HWIO)`;
  if (x.length !== 4 || w.length !== 4) throw new Error(`conv2d: expects 4-D tensors, got ${both}`);
  const [n, h, wd, cin] = x as [number, number, number, number];
  const [kh, kw, wcin, cout] = w as [number, number, number, number];
  if (wcin !== cin) throw new Error(`conv2d: channel mismatch, ${both}`);
  if (!(stride >= 1) || !Number.isInteger(stride) || !(pad >= 0) || !Number.isInteger(pad)) {
    throw new Error(`conv2d: bad stride ${stride} or padding ${pad} for ${both}`);
  }
  if (kh > h + 2 * pad || kw > wd + 2 * pad) {
    throw new Error(`conv2d: kernel ${kh}x${kw} is larger than the padded input (pad ${pad}), ${both}`);
  }
  const oh = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - kw) / stride) + 1;
  return { n, h, w: wd, cin, cout, kh, kw, stride, pad, oh, ow, hasBias };
}

export interface BatchNormGeometry extends SpatialGeometry {
  eps: number;
  momentum: number;
}

export interface PoolGeometry extends SpatialGeometry {
  k: number;
  stride: number;
  pad: number;
  oh: number;
  ow: number;
}

export function poolGeometry(x: Shape, k: number, stride: number, pad: number): PoolGeometry {
  const s = spatial(x, 'maxPool2d');
  if (pad > k / 2) throw new Error(`maxPool2d: padding ${pad} is more than half the kernel ${k} (input ${fmt(x)})`);
  if (k > s.h + 2 * pad || k > s.w + 2 * pad) throw new Error(`maxPool2d: kernel ${k} is larger than the padded input ${fmt(x)}`);
  const oh = Math.floor((s.h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((s.w + 2 * pad - k) / stride) + 1;
  return { ...s, k, stride, pad, oh, ow };
}

export interface BceGeometry {
  /** Samples. */
  n: number;
  /** Pixels per sample (the mean runs over these). */
  perSample: number;
}

/** A tensor seen as `rows` contiguous rows of `dim` elements: the operand of l2Normalize (last axis). */
export interface RowGeometry {
  rows: number;
  dim: number;
}

/** rows x dim of `shape` normalised along its last axis: rows = size / lastDim. */
export function lastAxisRows(shape: Shape, op: string): RowGeometry {
  const dim = shape[shape.length - 1];
  if (dim === undefined || dim < 1) throw new Error(`${op}: needs a non-empty last axis, got ${fmt(shape)}`);
  return { rows: sizeOf(shape) / dim, dim };
}

/** topkMask's operand, `rows` contiguous rows of `cols` elements, and the ones it keeps per row. */
export interface TopkGeometry {
  rows: number;
  cols: number;
  k: number;
}

/** Refuses a geometry whose k is not 1..cols, naming both (every backend checks with this). */
export function checkTopk(g: TopkGeometry): TopkGeometry {
  if (!(Number.isInteger(g.rows) && g.rows >= 1 && Number.isInteger(g.cols) && g.cols >= 1)) {
    throw new Error(`topkMask: bad geometry of ${g.rows} rows of ${g.cols}`);
  }
  if (!(Number.isInteger(g.k) && g.k >= 1 && g.k <= g.cols)) {
    throw new Error(`topkMask: k = ${g.k} is not an integer in 1..cols, cols = ${g.cols}`);
  }
  return g;
}

/** The geometry of F.topkMask(x [rows, cols], k). */
export function topkGeometry(x: Shape, k: number): TopkGeometry {
  if (x.length !== 2) throw new Error(`topkMask: needs a [rows, cols] tensor, got ${fmt(x)}`);
  return checkTopk({ rows: x[0]!, cols: x[1]!, k });
}
