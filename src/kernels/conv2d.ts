// Conv2d forward (implicit GEMM with register tiles) and the bias gradient (a reduction over pixels).
// Shader: shaders/conv2d.wgsl; the bias gradient reuses reduceMiddle (shaders/reduce.wgsl).
import type { Conv2dGeometry } from '../backend/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { reduceMiddle } from './reduce.js';

/** A register tile: TM output pixels x NV vec4 columns of output channels per invocation. */
export interface Conv2dTile {
  tm: number;
  nv: number;
  /** Invocations per workgroup. */
  wg: number;
}

/**
 * Fastest of the tiles measured on lavapipe over the UNet's layers (4x2, 8x1, 8x2, 4x4, 8x4, 16x4 and
 * workgroups of 32 and 64): llvmpipe loads storage buffers one lane at a time, so the tile that does the
 * most FMAs per load without spilling wins.
 */
export const CONV2D_TILE: Conv2dTile = { tm: 8, nv: 2, wg: 64 };

export function conv2d(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry): BufferRef {
  return conv2dTiled(gpu, x, w, bias, g, CONV2D_TILE);
}

/** conv2d with a chosen register tile (for benchmarks and tile tests). */
export function conv2dTiled(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, tile: Conv2dTile): BufferRef {
  if (g.hasBias !== (bias !== null)) throw new Error(`conv2d: geometry says hasBias=${g.hasBias} but bias is ${bias ? 'given' : 'null'}`);
  const pixels = g.n * g.oh * g.ow;
  const y = gpu.alloc(pixels * g.cout * 4, 'conv2d');
  const cout4 = Math.ceil(g.cout / 4);
  // A narrow layer (the 1-channel head) does not fill a wide tile: use as few columns as it has.
  const nv = Math.min(tile.nv, cout4);
  const colTiles = Math.ceil(cout4 / nv);
  const pixelTiles = Math.ceil(pixels / tile.tm);
  const u = new Uniforms(16)
    .u32(g.h, g.w, g.cin, g.cout, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow)
    .u32(pixels, cout4, colTiles, pixelTiles, g.hasBias ? 1 : 0);
  gpu.dispatch({
    kernel: 'conv2d',
    shader: 'conv2d.wgsl',
    defines: { WG: tile.wg, TM: tile.tm, NV: nv, VEC_IN: g.cin % 4 === 0, VEC_OUT: g.cout % 4 === 0 },
    uniforms: u.bytes(),
    // Without a bias the weights stand in at its binding (read-only bindings may alias); the shader
    // discards what it reads there.
    buffers: [x, w, bias ?? w, y],
    workgroups: [...grid1d(pixelTiles, tile.wg), colTiles],
  });
  return y;
}

/** dbias[co] = sum over n, oh, ow of dy: dy viewed as [1, pixels, cout], summed over the middle axis. */
export function conv2dBiasGrad(gpu: Gpu, dy: BufferRef, g: Conv2dGeometry): BufferRef {
  return reduceMiddle(gpu, dy, 1, g.n * g.oh * g.ow, g.cout);
}
