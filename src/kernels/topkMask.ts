// Top-k mask along rows (hard-negative mining: the k largest logits of each image): one workgroup per
// row runs a bitwise radix select on order-preserving keys of the floats, then writes the ones, ties at
// the k-th value going to the lower index. Rows of a multiple of 4 floats run the VEC4 variant. No
// atomics, no subgroups, no readback: deterministic, and recorded into the step's encoder like every
// other kernel.
// Shader: shaders/topk_mask.wgsl.
import { type TopkGeometry, checkTopk } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { VEC, elementWidth } from './vec4.js';

/**
 * The most invocations a row's workgroup asks for, within the device's limits (SwiftShader allows 256,
 * lavapipe 1024). On lavapipe 1024 ran slower than 256 (every barrier switches between all of a group's
 * invocations), and rows are few, so a row needs no more to keep a discrete GPU's core busy either.
 */
const MAX_GROUP = 256;

/** The workgroup size for this device: the largest power of two it allows (the shader's tree sum halves it), up to MAX_GROUP. */
export function topkGroupSize(gpu: Gpu): number {
  const l = gpu.limits;
  const allowed = Math.min(MAX_GROUP, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX, l.maxComputeWorkgroupStorageSize / 4);
  return 2 ** Math.floor(Math.log2(allowed));
}

/**
 * mask[r, c] = 1 at the k largest of x[r, :] (ties to the lower c), else 0: exactly k ones per row.
 * `group` overrides the workgroup size (a power of two within the device's limits; tests use it).
 */
export function topkMask(gpu: Gpu, x: BufferRef, g: TopkGeometry, group = topkGroupSize(gpu)): BufferRef {
  const { rows, cols, k } = checkTopk(g);
  if (x.size < rows * cols * 4) {
    throw new Error(`topkMask: x holds ${x.size / 4} elements, ${rows} rows of ${cols} need ${rows * cols}`);
  }
  if (!(Number.isInteger(Math.log2(group)) && group <= topkGroupSize(gpu))) {
    throw new Error(`topkMask: a workgroup of ${group} is not a power of two up to this device's ${topkGroupSize(gpu)}`);
  }
  // The mask is a fresh buffer (offset 0): only x's offset and cols decide the vec4 variant.
  const width = elementWidth([cols], [x]);
  const mask = gpu.alloc(rows * cols * 4, 'topkMask');
  gpu.dispatch({
    kernel: 'topkMask',
    shader: 'topk_mask.wgsl',
    defines: { WG: group, VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(rows, cols, k, cols / width).bytes(),
    buffers: [x, mask],
    workgroups: grid1d(rows, 1),
  });
  return mask;
}
