// Weighted binary cross-entropy with logits, sigmoid fused, and its backward.
// Forward: bce.wgsl sums w_i * bce over interleaved runs of each sample's pixels, reduceMiddle sums the
// partials (and the weights) in a fixed order, bceLoss.wgsl divides. Backward: bceBackward.wgsl, one
// invocation per logit, reading dloss and sum_i w_i from the GPU (no readback).
// Shaders: shaders/bce.wgsl, shaders/bceLoss.wgsl, shaders/bceBackward.wgsl.
import type { BceGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { reduceMiddle } from './reduce.js';

const GROUP = 256;
/** Pixels one invocation of the forward sums sequentially (as reduce.ts's chunk: bounds f32 error growth). */
const CHUNK = 512;

function checkBuffers(op: string, g: BceGeometry, refs: [string, BufferRef, number][]): void {
  if (!(Number.isInteger(g.n) && g.n >= 1 && Number.isInteger(g.perSample) && g.perSample >= 1)) {
    throw new Error(`${op}: bad geometry of ${g.n} samples of ${g.perSample} pixels`);
  }
  for (const [name, ref, elements] of refs) {
    if (ref.size < elements * 4) {
      throw new Error(`${op}: ${name} holds ${ref.size / 4} elements, geometry [${g.n}, ${g.perSample}] needs ${elements}`);
    }
  }
}

/** sum_i w_i, as 1 element (deterministic chunked sum). */
function sumWeights(gpu: Gpu, weights: BufferRef, n: number): BufferRef {
  return reduceMiddle(gpu, weights, 1, n, 1);
}

/** loss = sum_i w_i * mean_p bce(x[i, p], t[i, p]) / sum_i w_i, as 1 element. */
export function sigmoidBce(gpu: Gpu, logits: BufferRef, targets: BufferRef, weights: BufferRef, g: BceGeometry): BufferRef {
  const size = g.n * g.perSample;
  checkBuffers('sigmoidBce', g, [['logits', logits, size], ['targets', targets, size], ['weights', weights, g.n]]);
  const splits = Math.ceil(g.perSample / CHUNK);
  const partials = gpu.alloc(g.n * splits * 4, 'sigmoidBce.partials');
  gpu.dispatch({
    kernel: 'sigmoidBce',
    shader: 'bce.wgsl',
    uniforms: new Uniforms(4).u32(g.n, g.perSample, splits).bytes(),
    buffers: [logits, targets, weights, partials],
    workgroups: grid1d(g.n * splits, GROUP),
  });
  const total = reduceMiddle(gpu, partials, 1, g.n * splits, 1);
  gpu.release(partials);
  const sumW = sumWeights(gpu, weights, g.n);
  const loss = gpu.alloc(4, 'sigmoidBce');
  gpu.dispatch({
    kernel: 'sigmoidBce.divide',
    shader: 'bceLoss.wgsl',
    uniforms: new Uniforms(4).u32(g.perSample).bytes(),
    buffers: [total, sumW, loss],
    workgroups: [1],
  });
  gpu.release(total);
  gpu.release(sumW);
  return loss;
}

/** dlogits = dloss * w_i * (sigmoid(x) - t) / (perSample * sum_i w_i); dloss is 1 element. */
export function sigmoidBceBackward(
  gpu: Gpu, logits: BufferRef, targets: BufferRef, weights: BufferRef, dloss: BufferRef, g: BceGeometry,
): BufferRef {
  const size = g.n * g.perSample;
  checkBuffers('sigmoidBceBackward', g, [
    ['logits', logits, size], ['targets', targets, size], ['weights', weights, g.n], ['dloss', dloss, 1],
  ]);
  const sumW = sumWeights(gpu, weights, g.n);
  const dx = gpu.alloc(size * 4, 'sigmoidBceBackward');
  gpu.dispatch({
    kernel: 'sigmoidBceBackward',
    shader: 'bceBackward.wgsl',
    uniforms: new Uniforms(4).u32(size, g.n, g.perSample).bytes(),
    buffers: [logits, targets, weights, dloss, sumW, dx],
    workgroups: grid1d(size, GROUP),
  });
  gpu.release(sumW);
  return dx;
}
