// Channel concat (NHWC) and its backward. Shaders: shaders/concat.wgsl, shaders/concatBackward.wgsl.
// When both inputs' channel counts are multiples of 4 every shader is specialised with VEC4: an
// element is 4 consecutive channels (one vec4 access), and shapes are passed in those units.
import type { SpatialGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { VEC, elementWidth } from './vec4.js';

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
  const width = elementWidth([ca, cb], [a, b]);
  gpu.dispatch({
    kernel: 'concatChannels',
    shader: 'concat.wgsl',
    defines: { WG: GROUP, VEC4: width === VEC },
    uniforms: new Uniforms(3).u32(size / width, ca / width, cb / width).bytes(),
    buffers: [a, b, out],
    workgroups: grid1d(size / width, GROUP),
  });
  return out;
}

/**
 * Copies channels [offset, offset + cOut) of dy [pixels, cTotal] into a new [pixels, cOut]; `width`
 * channels per shader element, which must divide cOut, cTotal and offset.
 */
function channelSlice(gpu: Gpu, dy: BufferRef, pixels: number, cOut: number, cTotal: number, offset: number, width: number, label: string): BufferRef {
  const size = pixels * cOut;
  const out = gpu.alloc(size * 4, label);
  gpu.dispatch({
    kernel: label,
    shader: 'concatBackward.wgsl',
    defines: { WG: GROUP, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(size / width, cOut / width, cTotal / width, offset / width).bytes(),
    buffers: [dy, out],
    workgroups: grid1d(size / width, GROUP),
  });
  return out;
}

/** dy [n, h, w, ca + cb] split into da [n, h, w, ca] and db [n, h, w, cb]. */
export function concatChannelsBackward(gpu: Gpu, dy: BufferRef, g: SpatialGeometry, ca: number, cb: number): { da: BufferRef; db: BufferRef } {
  const pixels = pixelsOf(g, ca, cb, 'concatChannelsBackward');
  const width = elementWidth([ca, cb], [dy]);
  return {
    da: channelSlice(gpu, dy, pixels, ca, ca + cb, 0, width, 'concatChannelsBackward(a)'),
    db: channelSlice(gpu, dy, pixels, cb, ca + cb, ca, width, 'concatChannelsBackward(b)'),
  };
}
