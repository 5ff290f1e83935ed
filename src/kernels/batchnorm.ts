// Batch norm over n, h, w per channel of an NHWC tensor, viewed as [rows, c] with rows = n*h*w.
// Statistics are a shifted two-pass: sums of (x - x[row 0]) give a first mean; sums of (x - mean1) and
// (x - mean1)^2 give the corrected mean and the biased variance, so the variance never comes from
// cancelling E[x^2] against E[x]^2. Every sum runs over chunks of ROWS_PER_CHUNK rows whose partials
// reduceMiddle adds in a fixed order: deterministic, no atomics. When c is a multiple of 4 every shader
// is specialised with VEC4: it reads and writes 4 consecutive channels as one vec4 (the arithmetic per
// channel unchanged), and shapes are passed in those units.
// Shaders: batchnormSums.wgsl, batchnormStats.wgsl, batchnorm.wgsl, batchnormBackward.wgsl.
import type { BnFuse } from '../core/types.js';
import type { BatchNormGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { reduceMiddle } from './reduce.js';
import { VEC, elementWidth } from './vec4.js';

const GROUP = 256;
/** batchnormStats.wgsl runs one invocation per channel (per 4 with VEC4): few, so small groups. */
const STATS_GROUP = 64;
/**
 * Rows one invocation sums sequentially. Short, so that small late layers (a few hundred rows) still
 * spread over many invocations, and each partial sum carries few roundings.
 */
export const ROWS_PER_CHUNK = 64;

function describe(g: BatchNormGeometry): string {
  return `[${g.n}, ${g.h}, ${g.w}, ${g.c}] (NHWC)`;
}

/** Throws, naming the geometry, when the fuse mode and the residual disagree. */
function checkFuse(kernel: string, g: BatchNormGeometry, fuse: BnFuse, residual: BufferRef | null): void {
  if (fuse === 'add-relu' && !residual) throw new Error(`${kernel}: fuse 'add-relu' needs a residual for input ${describe(g)}`);
  if (fuse !== 'add-relu' && residual) throw new Error(`${kernel}: a residual needs fuse 'add-relu', not '${fuse}'`);
}

/** Throws, naming the geometry, when a buffer holds fewer floats than it needs. */
function checkSizes(kernel: string, g: BatchNormGeometry, refs: [string, BufferRef | null, number][]): void {
  for (const [name, ref, elements] of refs) {
    if (ref && ref.size < elements * 4) {
      throw new Error(`${kernel}: ${name} holds ${ref.size / 4} floats, input ${describe(g)} needs ${elements}`);
    }
  }
}

/** Adds [2, splits, c] partial sums over splits into [2, c]; takes ownership of `partial`. */
function sumSplits(gpu: Gpu, partial: BufferRef, splits: number, c: number): BufferRef {
  if (splits === 1) return partial;
  const out = reduceMiddle(gpu, partial, 2, splits, c);
  gpu.release(partial);
  return out;
}

/** [2, c]: per channel, sum (x - shift) and sum (x - shift)^2 over the rows. */
function shiftedSums(gpu: Gpu, x: BufferRef, shift: BufferRef, rows: number, c: number, width: number): BufferRef {
  const splits = Math.ceil(rows / ROWS_PER_CHUNK);
  const partial = gpu.alloc(2 * splits * c * 4, 'batchNormPartials');
  gpu.dispatch({
    kernel: 'batchNormSums',
    shader: 'batchnormSums.wgsl',
    defines: { VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(rows, c / width, ROWS_PER_CHUNK, splits).bytes(),
    buffers: [x, shift, partial],
    workgroups: grid1d((splits * c) / width, GROUP),
  });
  return sumSplits(gpu, partial, splits, c);
}

/** y = fuse(gamma * (x - mean) * invStd + beta [+ residual]); `stat` is invStd, or the variance for eval. */
function normalise(gpu: Gpu, x: BufferRef, gamma: BufferRef, beta: BufferRef, mean: BufferRef, stat: BufferRef, residual: BufferRef | null, g: BatchNormGeometry, fuse: BnFuse, statIsVariance: boolean): BufferRef {
  const size = g.n * g.h * g.w * g.c;
  const y = gpu.alloc(size * 4, 'batchNorm');
  const buffers = residual ? [x, gamma, beta, mean, stat, y, residual] : [x, gamma, beta, mean, stat, y];
  const width = elementWidth([g.c], buffers);
  gpu.dispatch({
    kernel: 'batchNorm',
    shader: 'batchnorm.wgsl',
    defines: { RELU: fuse !== 'none', RESIDUAL: fuse === 'add-relu', VEC4: width === VEC },
    uniforms: new Uniforms(4).u32(size / width, g.c / width, statIsVariance ? 1 : 0).f32(g.eps).bytes(),
    buffers,
    workgroups: grid1d(size / width, GROUP),
  });
  return y;
}

export function batchNormTrain(gpu: Gpu, x: BufferRef, gamma: BufferRef, beta: BufferRef, rm: BufferRef, rv: BufferRef, residual: BufferRef | null, g: BatchNormGeometry, fuse: BnFuse): { y: BufferRef; mean: BufferRef; invStd: BufferRef } {
  const rows = g.n * g.h * g.w;
  const c = g.c;
  // As PyTorch: one value per channel has no variance (and the unbiased one divides by m - 1 = 0).
  if (rows < 2) throw new Error(`batchNormTrain: expected more than 1 value per channel when training, got input ${describe(g)}`);
  checkFuse('batchNormTrain', g, fuse, residual);
  checkSizes('batchNormTrain', g, [['x', x, rows * c], ['residual', residual, rows * c], ['gamma', gamma, c], ['beta', beta, c], ['running mean', rm, c], ['running var', rv, c]]);
  // Every other buffer of the statistics is freshly allocated (offset 0).
  const width = elementWidth([c], [x, rm, rv]);
  const statsDefines = { VEC4: width === VEC };
  const statsUniforms = new Uniforms(4).u32(rows, c / width).f32(g.eps, g.momentum).bytes();
  const statsGroups = grid1d(c / width, STATS_GROUP);

  // Pass 1, shifted by each channel's first value (the first row of x).
  const firstRow: BufferRef = { buffer: x.buffer, offset: x.offset, size: c * 4 };
  const sums1 = shiftedSums(gpu, x, firstRow, rows, c, width);
  const mean1 = gpu.alloc(c * 4, 'batchNormMean1');
  gpu.dispatch({ kernel: 'batchNormShiftedMean', shader: 'batchnormStats.wgsl', entryPoint: 'shiftedMean', defines: statsDefines, uniforms: statsUniforms, buffers: [firstRow, sums1, mean1], workgroups: statsGroups });
  gpu.release(sums1);

  // Pass 2, shifted by the first-pass mean.
  const sums2 = shiftedSums(gpu, x, mean1, rows, c, width);
  const mean = gpu.alloc(c * 4, 'batchNormMean');
  const invStd = gpu.alloc(c * 4, 'batchNormInvStd');
  gpu.dispatch({ kernel: 'batchNormStats', shader: 'batchnormStats.wgsl', entryPoint: 'finalize', defines: statsDefines, uniforms: statsUniforms, buffers: [mean1, sums2, mean, invStd, rm, rv], workgroups: statsGroups });
  gpu.release(mean1);
  gpu.release(sums2);

  const y = normalise(gpu, x, gamma, beta, mean, invStd, residual, g, fuse, false);
  return { y, mean, invStd };
}

export function batchNormEval(gpu: Gpu, x: BufferRef, gamma: BufferRef, beta: BufferRef, rm: BufferRef, rv: BufferRef, residual: BufferRef | null, g: BatchNormGeometry, fuse: BnFuse): BufferRef {
  const c = g.c;
  const size = g.n * g.h * g.w * c;
  checkFuse('batchNormEval', g, fuse, residual);
  checkSizes('batchNormEval', g, [['x', x, size], ['residual', residual, size], ['gamma', gamma, c], ['beta', beta, c], ['running mean', rm, c], ['running var', rv, c]]);
  return normalise(gpu, x, gamma, beta, rm, rv, residual, g, fuse, true);
}

export function batchNormBackward(gpu: Gpu, dy: BufferRef, x: BufferRef, y: BufferRef, mean: BufferRef, invStd: BufferRef, gamma: BufferRef, g: BatchNormGeometry, fuse: BnFuse): { dx: BufferRef; dgamma: BufferRef; dbeta: BufferRef; dresidual: BufferRef | null } {
  const rows = g.n * g.h * g.w;
  const c = g.c;
  const size = rows * c;
  checkSizes('batchNormBackward', g, [['dy', dy, size], ['x', x, size], ['y', y, size], ['mean', mean, c], ['invStd', invStd, c], ['gamma', gamma, c]]);
  const splits = Math.ceil(rows / ROWS_PER_CHUNK);
  // Every other buffer is freshly allocated (offset 0).
  const width = elementWidth([c], [dy, x, y, mean, invStd, gamma]);
  const vec4 = width === VEC;
  const uniforms = new Uniforms(8).u32(rows, c / width, ROWS_PER_CHUNK, splits, size / width, fuse === 'none' ? 0 : 1).bytes();

  const partial = gpu.alloc(2 * splits * c * 4, 'batchNormGradPartials');
  gpu.dispatch({
    kernel: 'batchNormGradSums',
    shader: 'batchnormBackward.wgsl',
    entryPoint: 'partialSums',
    defines: { RESIDUAL: false, VEC4: vec4 },
    uniforms,
    buffers: [dy, x, y, mean, invStd, partial],
    workgroups: grid1d((splits * c) / width, GROUP),
  });
  // [dbeta, dgamma]
  const sums = sumSplits(gpu, partial, splits, c);

  const dx = gpu.alloc(size * 4, 'batchNormDx');
  const dresidual = fuse === 'add-relu' ? gpu.alloc(size * 4, 'batchNormDresidual') : null;
  // [gamma, dbeta, dgamma] in one buffer: bound apart, with dresidual the kernel would take 9 storage
  // buffers, one more than WebGPU guarantees (maxStorageBuffersPerShaderStage is 8 on many adapters).
  const coef = gpu.alloc(3 * c * 4, 'batchNormCoef');
  gpu.copy(gamma, { buffer: coef.buffer, offset: coef.offset, size: c * 4 }, c * 4);
  gpu.copy(sums, { buffer: coef.buffer, offset: coef.offset + c * 4, size: 2 * c * 4 }, 2 * c * 4);
  const buffers = [dy, x, y, mean, invStd, dx, coef];
  if (dresidual) buffers.push(dresidual);
  gpu.dispatch({
    kernel: 'batchNormInputGrad',
    shader: 'batchnormBackward.wgsl',
    entryPoint: 'inputGrad',
    defines: { RESIDUAL: dresidual !== null, VEC4: vec4 },
    uniforms,
    buffers,
    workgroups: grid1d(size / width, GROUP),
  });

  // The caller frees dbeta and dgamma separately, so each gets its own buffer.
  const dbeta = gpu.alloc(c * 4, 'batchNormDbeta');
  const dgamma = gpu.alloc(c * 4, 'batchNormDgamma');
  gpu.copy({ buffer: sums.buffer, offset: sums.offset, size: c * 4 }, dbeta, c * 4);
  gpu.copy({ buffer: sums.buffer, offset: sums.offset + c * 4, size: c * 4 }, dgamma, c * 4);
  gpu.release(sums);
  gpu.release(coef);
  return { dx, dgamma, dbeta, dresidual };
}
