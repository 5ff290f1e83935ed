// Max-pool 2d (NHWC) and its backward. Shaders: shaders/maxpool.wgsl and shaders/maxpoolBackward.wgsl,
// which share the window scan of shaders/maxpoolWindow.wgsl so that both break ties the same way.
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
    defines: { WG: GROUP },
    uniforms: poolUniforms(g, size),
    buffers: [x, out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}

/** dx: each input element gathers dy of the windows whose first maximum it is. */
export function maxPool2dBackward(gpu: Gpu, x: BufferRef, dy: BufferRef, g: PoolGeometry): BufferRef {
  const size = g.n * g.h * g.w * g.c;
  const dx = gpu.alloc(size * 4, 'maxPool2dBackward');
  gpu.dispatch({
    kernel: 'maxPool2dBackward',
    shader: 'maxpoolBackward.wgsl',
    defines: { WG: GROUP },
    uniforms: poolUniforms(g, size),
    buffers: [x, dy, dx],
    workgroups: grid1d(size, GROUP),
  });
  return dx;
}
