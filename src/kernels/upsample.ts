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
  return dispatchResample(gpu, 'upsample2x', 'upsample.wgsl', GROUP, x, g, g.n * 4 * g.h * g.w * g.c);
}

/** dy [n, 2h, 2w, c] -> dx [n, h, w, c], each element the sum of its 2x2 block. */
export function upsample2xBackward(gpu: Gpu, dy: BufferRef, g: SpatialGeometry): BufferRef {
  return dispatchResample(gpu, 'upsample2xBackward', 'upsampleBackward.wgsl', BACKWARD_GROUP, dy, g, g.n * g.h * g.w * g.c);
}

/** Either direction: one invocation per output element (of `size`), vec4s where c divides by 4; shapes in x's units. */
function dispatchResample(gpu: Gpu, kernel: string, shader: string, group: number, input: BufferRef, g: SpatialGeometry, size: number): BufferRef {
  const out = gpu.alloc(size * 4, kernel);
  const width = elementWidth([g.c], [input]);
  gpu.dispatch({
    kernel,
    shader,
    defines: { WG: group, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(size / width, g.h, g.w, g.c / width).bytes(),
    buffers: [input, out],
    workgroups: grid1d(size / width, group),
  });
  return out;
}
