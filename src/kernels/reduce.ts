// Sum over axes. The reduced axes are taken one contiguous run at a time, each as the middle axis of
// [outer, reduce, inner]; long runs are cut into chunks whose partial sums are summed again, so no
// invocation loops over more than CHUNK elements and every result is a fixed order of adds.
// Shader: shaders/reduce.wgsl.
import { type Shape, sizeOf } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';

const GROUP = 256;
/** Elements one invocation sums sequentially; also bounds the f32 error growth of each partial sum. */
const CHUNK = 512;

/** One reduction pass over the middle axis of [outer, reduce, inner]. */
export function reduceMiddle(gpu: Gpu, x: BufferRef, outer: number, reduce: number, inner: number): BufferRef {
  let src = x;
  let r = reduce;
  for (;;) {
    const splits = Math.ceil(r / CHUNK);
    const outSize = outer * splits * inner;
    const out = gpu.alloc(outSize * 4, 'reduceSum');
    gpu.dispatch({
      kernel: 'reduceSum',
      shader: 'reduce.wgsl',
      uniforms: new Uniforms(8).u32(outer, r, inner, CHUNK, splits).bytes(),
      buffers: [src, out],
      workgroups: grid1d(outSize, GROUP),
    });
    if (src !== x) gpu.release(src);
    if (splits === 1) return out;
    src = out;
    r = splits;
  }
}

export function reduceSum(gpu: Gpu, x: BufferRef, shape: Shape, axes: readonly number[]): BufferRef {
  const reduced = new Set(axes);
  let current = shape.slice();
  let src = x;
  // Runs of consecutive reduced axes, innermost first, so outer indices stay valid.
  for (let end = shape.length - 1; end >= 0; end--) {
    if (!reduced.has(end)) continue;
    let start = end;
    while (start > 0 && reduced.has(start - 1)) start--;
    const outer = sizeOf(current.slice(0, start));
    const r = sizeOf(current.slice(start, end + 1));
    const inner = sizeOf(current.slice(end + 1));
    const out = r === 1 ? null : reduceMiddle(gpu, src, outer, r, inner);
    current = current.map((d, i) => (i >= start && i <= end ? 1 : d));
    if (out) {
      if (src !== x) gpu.release(src);
      src = out;
    }
    end = start;
  }
  if (src === x) {
    // Nothing to sum (all reduced axes have size 1): still return new storage, as callers own it.
    const out = gpu.alloc(sizeOf(shape) * 4, 'reduceSum');
    gpu.copy(x, out, out.size);
    return out;
  }
  return src;
}
