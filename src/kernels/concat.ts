// Channel concat (NHWC) and its backward. Shaders: shaders/concat.wgsl, shaders/concatBackward.wgsl.
import type { SpatialGeometry } from '../backend/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';

const GROUP = 256;

/** g gives n, h, w and the first input's channels: a mismatch is a caller's bug, caught here. */
function pixelsOf(g: SpatialGeometry, ca: number, cb: number, kernel: string): number {
  if (g.c !== ca || !Number.isInteger(cb) || cb < 0) {
    throw new Error(`${kernel}: geometry [${g.n}, ${g.h}, ${g.w}, ${g.c}] does not match channels ${ca} + ${cb} (g.c must be ca)`);
  }
  return g.n * g.h * g.w;
}

/** out [n, h, w, ca + cb]: a's channels, then b's. */
export function concatChannels(gpu: Gpu, a: BufferRef, b: BufferRef, g: SpatialGeometry, ca: number, cb: number): BufferRef {
  const size = pixelsOf(g, ca, cb, 'concatChannels') * (ca + cb);
  const out = gpu.alloc(size * 4, 'concatChannels');
  gpu.dispatch({
    kernel: 'concatChannels',
    shader: 'concat.wgsl',
    defines: { WG: GROUP },
    uniforms: new Uniforms(3).u32(size, ca, cb).bytes(),
    buffers: [a, b, out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}

/** Copies channels [offset, offset + cOut) of dy [pixels, cTotal] into a new [pixels, cOut]. */
function channelSlice(gpu: Gpu, dy: BufferRef, pixels: number, cOut: number, cTotal: number, offset: number, label: string): BufferRef {
  const size = pixels * cOut;
  const out = gpu.alloc(size * 4, label);
  gpu.dispatch({
    kernel: label,
    shader: 'concatBackward.wgsl',
    defines: { WG: GROUP },
    uniforms: new Uniforms(4).u32(size, cOut, cTotal, offset).bytes(),
    buffers: [dy, out],
    workgroups: grid1d(size, GROUP),
  });
  return out;
}

/** dy [n, h, w, ca + cb] split into da [n, h, w, ca] and db [n, h, w, cb]. */
export function concatChannelsBackward(gpu: Gpu, dy: BufferRef, g: SpatialGeometry, ca: number, cb: number): { da: BufferRef; db: BufferRef } {
  const pixels = pixelsOf(g, ca, cb, 'concatChannelsBackward');
  return {
    da: channelSlice(gpu, dy, pixels, ca, ca + cb, 0, 'concatChannelsBackward(a)'),
    db: channelSlice(gpu, dy, pixels, cb, ca + cb, ca, 'concatChannelsBackward(b)'),
  };
}
