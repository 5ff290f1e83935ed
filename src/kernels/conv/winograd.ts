// Conv2d of 3x3 stride-1 layers in Winograd F(2x2, 3x3): 16 multiplies for each 2x2 tile of outputs where
// the direct convolution does 36, so 2.25x fewer multiply-adds, in four dispatches: the weights' transform
// (U), the input's (V), 16 GEMMs in one dispatch on conv2d's shared tile (M = V U), and the output's
// transform with the bias. Shaders: shaders/winograd_transform.wgsl (the transforms and the layouts),
// shaders/winograd_gemm.wgsl, shaders/winograd_weight_grad_gemm.wgsl. The stride-1 input gradient runs
// through here too (a viaForward variant whose forward is a Winograd one), and so does the weight
// gradient of such layers (conv2dWeightGradWinograd).
// Variants of conv2d and its weight gradient: the CPU references and the tile tests are theirs.
import type { Conv2dGeometry } from '../../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../../gpu/gpu.js';
import { SHARE, canRunSharedTiles, sharedWorkgroup } from '../../gpu/subgroups.js';
import { fitSharedTile, packConvGeometry, tileLayout, vec4Channels, workgroupLimitsProblem } from './tiles.js';
import type { WinogradTile } from './variant.js';

const F32 = 4;
/** Invocations per workgroup of the transforms (shaders/winograd_transform.wgsl's WG). */
const TRANSFORM_GROUP = 64;
/** The 4x4 products of a tile: the GEMMs. */
const XI = 16;

/**
 * The GEMM's shared tile: conv2d's (tm 32, nv 1, one subgroup), taken over unmeasured against other
 * Winograd tiles on lavapipe; `gpuseg tune` measures tm 16 and 32, nv 1 and 2 layer by layer.
 */
export const WINOGRAD_TILE: WinogradTile = { kind: 'winograd', tm: 32, nv: 1, wg: 8 };

/**
 * Whether the heuristic takes Winograd for a layer: where it measured clearly faster than the shared
 * direct tile on lavapipe (bench/RESULTS.md, 2026-12-07, batch 2 at 128x128): at least 64 output
 * channels (the input's transform, a pass over 4x the input, is paid per output channel in the GEMM) and
 * 128 2x2 tiles (the weights' transform is paid per tile), at most 384 input channels (the decoder's
 * 768 -> 256 layer measured level). Elsewhere the tuner may still choose it.
 */
export function winogradPays(g: Conv2dGeometry): boolean {
  return g.cout >= 64 && g.cin <= 384 && winogradTiles(g).tiles >= 128;
}

/** 2x2 output tiles across, down and in all. */
export function winogradTiles(g: Conv2dGeometry): { tilesX: number; tilesY: number; tiles: number } {
  const tilesX = Math.ceil(g.ow / 2);
  const tilesY = Math.ceil(g.oh / 2);
  return { tilesX, tilesY, tiles: g.n * tilesX * tilesY };
}

/** Why a Winograd variant cannot run this layer on this device, or null. */
export function winogradProblem(gpu: Gpu, g: Conv2dGeometry, t: WinogradTile): string | null {
  if (g.kh !== 3 || g.kw !== 3 || g.stride !== 1) return `needs a 3x3 stride-1 layer, not ${g.kh}x${g.kw} stride ${g.stride}`;
  if (!vec4Channels(g)) return `needs cin ${g.cin} and cout ${g.cout} multiples of 4`;
  if (!canRunSharedTiles(gpu)) return `needs subgroups of at least ${SHARE} lanes`;
  if (t.tm % SHARE !== 0) return `needs tm a multiple of ${SHARE}`;
  const { tiles } = winogradTiles(g);
  // The input's transform V, the products M (or the output gradient's dM) and the weights' U (or dU).
  const largest = XI * Math.max(tiles * g.cin, tiles * g.cout, g.cin * g.cout) * F32;
  if (largest > gpu.limits.maxStorageBufferBindingSize) return `needs a ${largest}-byte buffer, more than this device binds`;
  return workgroupLimitsProblem(gpu, sharedWorkgroup(gpu, t.wg), 1, 0);
}

/** The tile fitted to the layer's GEMMs (tiles rows, cout / 4 vec4 columns), as conv2d's shared tile is. */
export function fitWinogradTile(gpu: Gpu, g: Conv2dGeometry, t: WinogradTile): WinogradTile {
  const fit = fitSharedTile(gpu, { ...t, kind: 'shared' }, g.cout / 4, winogradTiles(g).tiles);
  return { ...fit, kind: 'winograd' };
}

/** One dispatch of an entry point of shaders/winograd_transform.wgsl over `count` invocations. */
function transform(gpu: Gpu, g: Conv2dGeometry, kernel: string, entryPoint: string, input: BufferRef, out: BufferRef, count: number, bias: BufferRef | null = null): void {
  const { tilesX, tilesY, tiles } = winogradTiles(g);
  gpu.dispatch({
    kernel,
    shader: 'winograd_transform.wgsl',
    entryPoint,
    uniforms: packConvGeometry(new Uniforms(16), g).u32(tilesX, tilesY, tiles, count, bias ? 1 : 0).bytes(),
    // The output transform reads a bias (without one the input stands in, unread); the others have none.
    buffers: entryPoint === 'transformOutput' ? [input, out, bias ?? input] : [input, out],
    workgroups: grid1d(count, TRANSFORM_GROUP),
  });
}

/** V, the input's transform [16][tiles][cin]; the caller releases it. */
function transformInput(gpu: Gpu, x: BufferRef, g: Conv2dGeometry, kernel: string): BufferRef {
  const { tiles } = winogradTiles(g);
  const v = gpu.alloc(XI * tiles * g.cin * F32, 'winogradInput');
  transform(gpu, g, kernel, 'transformInput', x, v, tiles * (g.cin / 4));
  return v;
}

/** Records conv2d on a Winograd variant (its problem checked by the caller); the caller releases y. */
export function conv2dWinograd(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, t: WinogradTile, kernel: string): BufferRef {
  const { tiles } = winogradTiles(g);
  const cin4 = g.cin / 4;
  const cout4 = g.cout / 4;
  const u = gpu.alloc(XI * g.cin * g.cout * F32, 'winogradWeights');
  transform(gpu, g, kernel, 'transformWeights', w, u, g.cin * cout4);
  const v = transformInput(gpu, x, g, kernel);

  const m = gpu.alloc(XI * tiles * g.cout * F32, 'winogradProducts');
  const { wg, nv, pg, colTiles, pixelTiles } = tileLayout(gpu, { ...t, kind: 'shared' }, cout4, tiles);
  gpu.dispatch({
    kernel,
    shader: 'winograd_gemm.wgsl',
    defines: { WG: wg, TM: t.tm, NV: nv, PG: pg, SHARE },
    uniforms: new Uniforms(8).u32(tiles, cin4, cout4, colTiles, pixelTiles).bytes(),
    buffers: [v, u, m],
    workgroups: grid1d(XI * pixelTiles * colTiles, 1),
  });
  gpu.release(u);
  gpu.release(v);

  const y = gpu.alloc(g.n * g.oh * g.ow * g.cout * F32, 'conv2d');
  transform(gpu, g, kernel, 'transformOutput', m, y, tiles * cout4, bias);
  gpu.release(m);
  return y;
}

/**
 * The weight gradient of a 3x3 stride-1 layer in Winograd F(2x2, 3x3) (its problem checked by the
 * caller): the input's transform V and the output gradient's dM = A dy A^T, 16 GEMMs dU = V^T dM summed
 * over the tiles (shaders/winograd_weight_grad_gemm.wgsl: t.tm input channels by t.nv vec4 columns of
 * output channels per lane, t.wg lanes), then dw = G^T dU G in HWIO. The caller releases dw.
 */
export function conv2dWeightGradWinograd(gpu: Gpu, x: BufferRef, dy: BufferRef, g: Conv2dGeometry, t: WinogradTile, kernel: string): BufferRef {
  const { tiles } = winogradTiles(g);
  const cin4 = g.cin / 4;
  const cout4 = g.cout / 4;
  const v = transformInput(gpu, x, g, kernel);
  const dm = gpu.alloc(XI * tiles * g.cout * F32, 'winogradOutputGrad');
  transform(gpu, g, kernel, 'transformOutputGrad', dy, dm, tiles * cout4);

  const du = gpu.alloc(XI * g.cin * g.cout * F32, 'winogradWeightGrad');
  const wg = sharedWorkgroup(gpu, t.wg);
  const nv = Math.min(t.nv, cout4);
  const rowTiles = Math.ceil(g.cin / t.tm);
  const colTiles = Math.ceil(cout4 / (wg * nv));
  gpu.dispatch({
    kernel,
    shader: 'winograd_weight_grad_gemm.wgsl',
    defines: { WG: wg, TM: t.tm, NV: nv, SHARE },
    uniforms: new Uniforms(8).u32(tiles, cin4, cout4, rowTiles, colTiles).bytes(),
    buffers: [v, dm, du],
    workgroups: grid1d(XI * rowTiles * colTiles, 1),
  });
  gpu.release(v);
  gpu.release(dm);

  const dw = gpu.alloc(9 * g.cin * g.cout * F32, 'conv2dWeightGrad');
  transform(gpu, g, kernel, 'transformWeightGrad', du, dw, g.cin * cout4);
  gpu.release(du);
  return dw;
}
