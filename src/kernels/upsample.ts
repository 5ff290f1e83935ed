// Nearest upsampling by 2 (NHWC) and its backward. Shaders: shaders/upsample.wgsl,
// shaders/upsampleBackward.wgsl. When c is a multiple of 4 both are specialised with VEC4: an element
// is 4 consecutive channels (one vec4 access), and shapes are passed in those units.
import type { SpatialGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { VEC, elementWidth } from './vec4.js';

const GROUP = 256;
/**
 * The backward runs one invocation per input element, a quarter of dy; with groups of 64 its scalar
 * grid turns 2-D past 4.2 million inputs, which lavapipe's 128 MiB binding limit (33.5 million floats
 * of dy) can still hold, so the 2-D path is tested there too. 64 is a common group size on every GPU.
 */
const BACKWARD_GROUP = 64;

/** x [n, h, w, c] -> out [n, 2h, 2w, c], each pixel copied to a 2x2 block. */
export function upsample2x(gpu: Gpu, x: BufferRef, g: SpatialGeometry): BufferRef {
  const size = g.n * 4 * g.h * g.w * g.c;
  const out = gpu.alloc(size * 4, 'upsample2x');
  const width = elementWidth([g.c], [x]);
  gpu.dispatch({
    kernel: 'upsample2x',
    shader: 'upsample.wgsl',
    defines: { WG: GROUP, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(size / width, g.h, g.w, g.c / width).bytes(),
    buffers: [x, out],
    workgroups: grid1d(size / width, GROUP),
  });
  return out;
}

/** dy [n, 2h, 2w, c] -> dx [n, h, w, c], each element the sum of its 2x2 block. */
export function upsample2xBackward(gpu: Gpu, dy: BufferRef, g: SpatialGeometry): BufferRef {
  const size = g.n * g.h * g.w * g.c;
  const dx = gpu.alloc(size * 4, 'upsample2xBackward');
  const width = elementWidth([g.c], [dy]);
  gpu.dispatch({
    kernel: 'upsample2xBackward',
    shader: 'upsampleBackward.wgsl',
    defines: { WG: BACKWARD_GROUP, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(size / width, g.h, g.w, g.c / width).bytes(),
    buffers: [dy, dx],
    workgroups: grid1d(size / width, BACKWARD_GROUP),
  });
  return dx;
}
