// L2 normalisation along rows of `dim` contiguous floats and its backward, one invocation per row that
// loops over the row (these tensors, a feature map's cells by its channels, are tiny next to the
// convolutions' work). Rows of a multiple of 4 floats run the VEC4 variants.
// Shaders: shaders/l2normalize.wgsl, shaders/l2normalizeBackward.wgsl.
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { VEC, elementWidth } from './vec4.js';

/** One invocation per row and only a few thousand rows: small groups spread them over more cores. */
const GROUP = 64;
/** The smallest normal float32: an eps below it could be flushed to 0 and divide by zero. */
const F32_MIN_NORMAL = 2 ** -126;

function check(op: string, rows: number, dim: number, eps: number, refs: [string, BufferRef, number][]): void {
  if (!(Number.isInteger(rows) && rows >= 1 && Number.isInteger(dim) && dim >= 1)) {
    throw new Error(`${op}: bad geometry of ${rows} rows of ${dim}`);
  }
  if (!(eps >= F32_MIN_NORMAL && eps < Infinity)) {
    throw new Error(`${op}: eps ${eps} is not a positive normal float32 (>= ${F32_MIN_NORMAL})`);
  }
  for (const [name, ref, elements] of refs) {
    if (ref.size < elements * 4) {
      throw new Error(`${op}: ${name} holds ${ref.size / 4} elements, ${rows} rows of ${dim} need ${elements}`);
    }
  }
}

/** y[r, :] = x[r, :] / max(||x[r, :]||, eps) and norm[r] = ||x[r, :]|| ([rows]). */
export function l2Normalize(gpu: Gpu, x: BufferRef, rows: number, dim: number, eps: number): { y: BufferRef; norm: BufferRef } {
  check('l2Normalize', rows, dim, eps, [['x', x, rows * dim]]);
  const width = elementWidth([dim], [x]);
  const y = gpu.alloc(rows * dim * 4, 'l2Normalize');
  const norm = gpu.alloc(rows * 4, 'l2Normalize.norm');
  gpu.dispatch({
    kernel: 'l2Normalize',
    shader: 'l2normalize.wgsl',
    defines: { WG: GROUP, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(rows, dim / width).f32(eps).bytes(),
    buffers: [x, y, norm],
    workgroups: grid1d(rows, GROUP),
  });
  return { y, norm };
}

/** dx = (dy - y <dy, y>) / norm where norm > eps, else dy / eps. */
export function l2NormalizeBackward(
  gpu: Gpu, dy: BufferRef, y: BufferRef, norm: BufferRef, rows: number, dim: number, eps: number,
): BufferRef {
  check('l2NormalizeBackward', rows, dim, eps, [['dy', dy, rows * dim], ['y', y, rows * dim], ['norm', norm, rows]]);
  // norm is read one float at a time: its alignment does not matter.
  const width = elementWidth([dim], [dy, y]);
  const dx = gpu.alloc(rows * dim * 4, 'l2NormalizeBackward');
  gpu.dispatch({
    kernel: 'l2NormalizeBackward',
    shader: 'l2normalizeBackward.wgsl',
    defines: { WG: GROUP, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(rows, dim / width).f32(eps).bytes(),
    buffers: [dy, y, norm, dx],
    workgroups: grid1d(rows, GROUP),
  });
  return dx;
}
