// Max-pool 2d (NHWC) and its backward. Shaders: shaders/maxpool.wgsl (the forward, and the backward's
// argmax pass: one window scan, shaders/maxpoolWindow.wgsl, so both break ties the same way) and
// shaders/maxpoolBackward.wgsl.
import type { PoolGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { VEC, elementWidth } from './vec4.js';

const GROUP = 256;

/** PoolParams of maxpoolWindow.wgsl; `size` is the number of invocations. */
function poolUniforms(g: PoolGeometry, size: number): ArrayBuffer {
  return new Uniforms(10).u32(size, g.n, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow).bytes();
}

/** y[n, oy, ox, c] = max over the k x k window at (oy * stride - pad, ox * stride - pad). */
export function maxPool2d(gpu: Gpu, x: BufferRef, g: PoolGeometry): BufferRef {
  return scanWindows(gpu, x, g, false);
}

/** One pass of shaders/maxpool.wgsl over the windows: each one's maximum, or with `argmax` its flat index. */
function scanWindows(gpu: Gpu, x: BufferRef, g: PoolGeometry, argmax: boolean): BufferRef {
  const windows = g.n * g.oh * g.ow * g.c;
  const out = gpu.alloc(windows * 4, argmax ? 'maxPool2dArgmax' : 'maxPool2d');
  gpu.dispatch({
    kernel: argmax ? 'maxPool2dArgmax' : 'maxPool2d',
    shader: 'maxpool.wgsl',
    defines: { WG: GROUP, ARGMAX: argmax },
    uniforms: poolUniforms(g, windows),
    buffers: [x, out],
    workgroups: grid1d(windows, GROUP),
  });
  return out;
}

/**
 * dx: the flat input index of each window's first maximum (one pass over the windows), then each input
 * element gathers dy of the windows whose index it is.
 */
export function maxPool2dBackward(gpu: Gpu, x: BufferRef, dy: BufferRef, g: PoolGeometry): BufferRef {
  const argmax = scanWindows(gpu, x, g, true);
  const size = g.n * g.h * g.w * g.c;
  const dx = gpu.alloc(size * 4, 'maxPool2dBackward');
  // Four channels per invocation where they divide: the gather of the stem's pool at batch 2, 128x128
  // took 14.4 ms a channel at a time on lavapipe, 5.3 ms four at a time.
  const lanes = elementWidth([g.c], [dy]);
  gpu.dispatch({
    kernel: 'maxPool2dBackward',
    shader: 'maxpoolBackward.wgsl',
    defines: { WG: GROUP, VEC4: lanes === VEC },
    uniforms: poolUniforms(g, size / lanes),
    buffers: [argmax, dy, dx],
    workgroups: grid1d(size / lanes, GROUP),
  });
  gpu.release(argmax);
  return dx;
}
