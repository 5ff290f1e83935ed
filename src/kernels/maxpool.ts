// Max-pool 2d (NHWC) and its backward. Shaders: shaders/maxpool.wgsl (the forward, and the backward's
// argmax pass: one window scan, shaders/maxpoolWindow.wgsl, so both break ties the same way) and
// shaders/maxpoolBackward.wgsl.
import type { PoolGeometry } from '../backend/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';

const GROUP = 256;

/** PoolParams of maxpoolWindow.wgsl; `size` is the number of invocations. */
function poolUniforms(g: PoolGeometry, size: number): ArrayBuffer {
  return new Uniforms(10).u32(size, g.n, g.h, g.w, g.c, g.k, g.stride, g.pad, g.oh, g.ow).bytes();
}

/** y[n, oy, ox, c] = max over the k x k window at (oy * stride - pad, ox * stride - pad). */
export function maxPool2d(gpu: Gpu, x: BufferRef, g: PoolGeometry): BufferRef {
  const size = g.n * g.oh * g.ow * g.c;
  const out = gpu.alloc(size * 4, 'maxPool2d');
  gpu.dispatch({
    kernel: 'maxPool2d',
    shader: 'maxpool.wgsl',
    defines: { WG: GROUP, ARGMAX: false },
    uniforms: poolUniforms(g, size),
    buffers: [x, out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}

/**
 * dx: the flat input index of each window's first maximum (one pass over the windows), then each input
 * element gathers dy of the windows whose index it is.
 */
export function maxPool2dBackward(gpu: Gpu, x: BufferRef, dy: BufferRef, g: PoolGeometry): BufferRef {
  const windows = g.n * g.oh * g.ow * g.c;
  const argmax = gpu.alloc(windows * 4, 'maxPool2dArgmax');
  gpu.dispatch({
    kernel: 'maxPool2dArgmax',
    shader: 'maxpool.wgsl',
    defines: { WG: GROUP, ARGMAX: true },
    uniforms: poolUniforms(g, windows),
    buffers: [x, argmax],
    workgroups: grid1d(windows, GROUP),
  });
  const size = g.n * g.h * g.w * g.c;
  const dx = gpu.alloc(size * 4, 'maxPool2dBackward');
  // Four channels per invocation where they divide: the gather of the stem's pool at batch 2, 128x128
  // took 14.4 ms a channel at a time on lavapipe, 5.3 ms four at a time.
  const lanes = g.c % 4 === 0 ? 4 : 1;
  gpu.dispatch({
    kernel: 'maxPool2dBackward',
    shader: 'maxpoolBackward.wgsl',
    defines: { WG: GROUP, VEC4: lanes === 4 },
    uniforms: poolUniforms(g, size / lanes),
    buffers: [argmax, dy, dx],
    workgroups: grid1d(size / lanes, GROUP),
  });
  gpu.release(argmax);
  return dx;
}
