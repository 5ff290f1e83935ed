// Conv2d forward (implicit GEMM with register tiles, the input shared through subgroup shuffles where
// the device has subgroups of at least SHARE lanes) and the bias gradient (a reduction over pixels).
// Shader: shaders/conv2d.wgsl; the bias gradient reuses reduceMiddle (shaders/reduce.wgsl).
import type { Conv2dGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { reduceMiddle } from './reduce.js';
import { SHARE, canShareA, sharedWorkgroup } from '../gpu/subgroups.js';
import { TuningTable } from '../gpu/tuning.js';
import { shaderHash } from '../gpu/pipelines.js';
import { hasFields, tunedChoice } from './autotune.js';

/** A register tile: TM output pixels x NV vec4 columns of output channels per invocation. */
export interface Conv2dTile {
  tm: number;
  nv: number;
  /** Invocations per workgroup. */
  wg: number;
  /**
   * The workgroup's lanes share their TM pixels (each takes its own NV columns) and load the input
   * through subgroupShuffle: needs tm a multiple of SHARE, cin and cout multiples of 4, and subgroups.
   */
  shareX?: boolean;
}

/**
 * A workgroup-memory tile (shaders/conv2d_workgroup_tile.wgsl), the layout discrete GPUs are built for:
 * WX x WY invocations, each TM pixels x NV vec4 columns of channels, staging BK values of k at a time.
 * Needs cin and cout multiples of 4. Not a candidate on CPU drivers, where workgroup memory is plain
 * memory behind barriers (DESIGN.md: register tiles win there by 10x).
 */
export interface Conv2dWorkgroupTile {
  workgroup: true;
  wx: number;
  wy: number;
  tm: number;
  nv: number;
  bk: number;
}

/** Either kind of conv2d tile. */
export type Conv2dVariant = Conv2dTile | Conv2dWorkgroupTile;

export function isWorkgroupTile(t: Conv2dVariant): t is Conv2dWorkgroupTile {
  return (t as Conv2dWorkgroupTile).workgroup === true;
}

/**
 * Fastest of the tiles measured on lavapipe over the UNet's layers (4x2, 8x1, 8x2, 4x4, 8x4, 16x4 and
 * workgroups of 32 and 64): llvmpipe loads storage buffers one lane at a time, so the tile that does the
 * most FMAs per load without spilling wins.
 */
export const CONV2D_TILE: Conv2dTile = { tm: 8, nv: 2, wg: 64 };
/**
 * The shared tile, measured on lavapipe over the UNet's layers at batch 2, 64x64 (tm 8, 16, 24, 32, 48,
 * 64; nv 1 and 2; workgroups of 8 and 16): tm 32, nv 1, one subgroup per workgroup runs 25-30 GFLOP/s
 * on the 3x3 layers, 3-4x the plain tile; nv 2 spills, and at tm 48 or more the driver leaves the loop
 * over pixels rolled (5x slower). Layers with few pixels (layer4) take a smaller tm: see sharedTile.
 */
export const SHARED_CONV2D_TILE: Conv2dTile = { tm: 32, nv: 1, wg: 8, shareX: true };

/**
 * Whether a shared tile can run this layer here (vec4 input and output, subgroups of SHARE lanes). The
 * head (cout 1) stays on the plain tile: the shared one measured no faster there.
 */
export function canShareConv2d(gpu: Gpu, g: Conv2dGeometry): boolean {
  return g.cin % 4 === 0 && g.cout % 4 === 0 && canShareA(gpu);
}

/** conv2d on the tile `tuning` holds for this layer, else the heuristic's. */
export function conv2d(gpu: Gpu, tuning: TuningTable, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry): BufferRef {
  return conv2dTiled(gpu, x, w, bias, g, chooseConv2dTile(gpu, tuning, g));
}

/** The tile conv2d runs a layer with: the one `tuning` holds for this shape, else the heuristic. */
export function chooseConv2dTile(gpu: Gpu, tuning: TuningTable, g: Conv2dGeometry): Conv2dVariant {
  return tunedChoice(tuning, () => conv2dTuningKey(g), (t): t is Conv2dVariant => isUsableConv2dTile(gpu, g, t)) ?? defaultConv2dTile(gpu, g);
}

export function defaultConv2dTile(gpu: Gpu, g: Conv2dGeometry): Conv2dTile {
  return canShareConv2d(gpu, g) ? sharedTileFor(gpu, g, SHARED_CONV2D_TILE) : CONV2D_TILE;
}

/** The shaders conv2d's variants run: their text keys its tuning entries. */
export const CONV2D_SHADERS = ['conv2d.wgsl', 'conv2d_workgroup_tile.wgsl'];

export function conv2dTuningKey(g: Conv2dGeometry): string {
  return TuningTable.key('conv2d', shaderHash(CONV2D_SHADERS), g);
}

/** Whether `t` (from a tuning file: anything) is a conv2d tile that can run this layer here. */
export function isUsableConv2dTile(gpu: Gpu, g: Conv2dGeometry, t: unknown): t is Conv2dVariant {
  const fields = (t as { workgroup?: unknown })?.workgroup === true ? hasFields(t, ['wx', 'wy', 'tm', 'nv', 'bk']) : hasFields(t, ['tm', 'nv', 'wg'], ['shareX']);
  return fields && conv2dTileProblem(gpu, g, t as unknown as Conv2dVariant) === null;
}

/**
 * A shared tile fitted to a layer and device (whole subgroups): a workgroup's tile keeps about tm pixels when its lanes split into
 * pixel groups (on the narrow decoder4 layers tm 16 with 2 groups measured faster than 32), then
 * fitSharedTm.
 */
export function sharedTileFor(gpu: Gpu, g: Conv2dGeometry, t: Conv2dTile): Conv2dTile {
  const wg = sharedWorkgroup(gpu, t.wg);
  const pg = pixelGroups(Math.ceil(g.cout / 4), t.nv, wg);
  return { ...t, wg, tm: fitSharedTm(Math.max(SHARE, t.tm / pg), pg, g.n * g.oh * g.ow) };
}

/**
 * The tm of a shared tile with pg pixel groups over `pixels` pixels: tm halves (down to SHARE) while
 * that leaves the number of pixel tiles unchanged (layer4 at 64x64 has 8 pixels: tm 8 runs 2x faster
 * than 32).
 */
export function fitSharedTm(tm: number, pg: number, pixels: number): number {
  let fit = tm;
  while (fit > SHARE && fit * pg >= 2 * pixels) fit /= 2;
  return fit;
}

/**
 * Pixel groups of a shared tile over `columns` vec4 columns: the largest power of 2 dividing SHARE that
 * still leaves each of the wg / pg lanes of a pixel group columns of its own (so a narrow layer does not
 * idle most lanes).
 */
export function pixelGroups(columns: number, nv: number, wg: number): number {
  let pg = 1;
  while (pg < SHARE && (wg / (pg * 2)) * nv >= columns) pg *= 2;
  return pg;
}

/** Workgroup memory a workgroup tile takes: its input slab (BK x BM floats) and weight slab (BK x BN). */
export function workgroupTileBytes(t: Conv2dWorkgroupTile): number {
  return t.bk * t.wy * t.tm * 4 + t.bk * t.wx * t.nv * 16;
}

/** Why a WX x WY workgroup using `bytes` of workgroup memory cannot run on this device, or null. */
export function workgroupLimitsProblem(gpu: Gpu, wx: number, wy: number, bytes: number): string | null {
  const l = gpu.limits;
  if (wx * wy > l.maxComputeInvocationsPerWorkgroup || wx > l.maxComputeWorkgroupSizeX || wy > l.maxComputeWorkgroupSizeY) {
    return `is larger than this device's workgroups (${l.maxComputeWorkgroupSizeX} x ${l.maxComputeWorkgroupSizeY}, ${l.maxComputeInvocationsPerWorkgroup} invocations)`;
  }
  if (bytes > l.maxComputeWorkgroupStorageSize) return `needs ${bytes} bytes of workgroup memory, more than this device's ${l.maxComputeWorkgroupStorageSize}`;
  return null;
}

/** Why a tile cannot run this layer on this device, or null. */
export function conv2dTileProblem(gpu: Gpu, g: Conv2dGeometry, t: Conv2dVariant): string | null {
  if (isWorkgroupTile(t)) {
    if (g.cin % 4 !== 0 || g.cout % 4 !== 0) return `needs cin ${g.cin} and cout ${g.cout} multiples of 4`;
    if (t.bk % 4 !== 0) return 'needs bk a multiple of 4';
    return workgroupLimitsProblem(gpu, t.wx, t.wy, workgroupTileBytes(t));
  }
  const limits = workgroupLimitsProblem(gpu, t.wg, 1, 0);
  if (limits) return limits;
  if (t.shareX && (t.tm % SHARE !== 0 || !canShareConv2d(gpu, g))) {
    return `needs tm a multiple of ${SHARE}, cin ${g.cin} and cout ${g.cout} multiples of 4, and subgroups of at least ${SHARE} lanes`;
  }
  return null;
}

/**
 * conv2d with a chosen tile (for the tuner, benchmarks and tile tests); `kernel` names the dispatch in
 * errors and profiles (the input gradient runs stride-1 layers through here too).
 */
export function conv2dTiled(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, tile: Conv2dVariant, kernel = 'conv2d'): BufferRef {
  if (g.hasBias !== (bias !== null)) throw new Error(`conv2d: geometry says hasBias=${g.hasBias} but bias is ${bias ? 'given' : 'null'}`);
  const problem = conv2dTileProblem(gpu, g, tile);
  if (problem) throw new Error(`${kernel}: tile ${JSON.stringify(tile)} ${problem}`);
  if (isWorkgroupTile(tile)) return conv2dWorkgroupTiled(gpu, x, w, bias, g, tile, kernel);
  const pixels = g.n * g.oh * g.ow;
  const y = gpu.alloc(pixels * g.cout * 4, 'conv2d');
  const cout4 = Math.ceil(g.cout / 4);
  // A narrow layer (the 1-channel head) does not fill a wide tile: use as few columns as it has.
  const nv = Math.min(tile.nv, cout4);
  // Shared: whole subgroups only, so every lane a shuffle reads from exists.
  const wg = tile.shareX ? sharedWorkgroup(gpu, tile.wg) : tile.wg;
  // Shared, narrow (fewer columns than lanes): the lanes split into pg groups over interleaved pixels.
  const pg = tile.shareX ? pixelGroups(cout4, nv, wg) : 1;
  const colTiles = Math.ceil(cout4 / (tile.shareX ? (nv * wg) / pg : nv));
  const pixelTiles = Math.ceil(pixels / (tile.tm * pg));
  const u = packConvGeometry(new Uniforms(16), g)
    .u32(pixels, cout4, colTiles, pixelTiles, g.hasBias ? 1 : 0);
  gpu.dispatch({
    kernel,
    shader: 'conv2d.wgsl',
    defines: { WG: wg, TM: tile.tm, NV: nv, VEC_IN: g.cin % 4 === 0, VEC_OUT: g.cout % 4 === 0, SHARE_X: !!tile.shareX, PG: pg, SHARE },
    uniforms: u.bytes(),
    // Without a bias the weights stand in at its binding (read-only bindings may alias); the shader
    // discards what it reads there.
    buffers: [x, w, bias ?? w, y],
    // Shared: one workgroup per grid1d "invocation", all the channel tiles of a pixel tile side by side.
    workgroups: tile.shareX ? grid1d(pixelTiles * colTiles, 1) : [...grid1d(pixelTiles, wg), colTiles],
  });
  return y;
}

function conv2dWorkgroupTiled(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, t: Conv2dWorkgroupTile, kernel: string): BufferRef {
  const pixels = g.n * g.oh * g.ow;
  const y = gpu.alloc(pixels * g.cout * 4, 'conv2d');
  const cout4 = g.cout / 4;
  const colTiles = Math.ceil(cout4 / (t.wx * t.nv));
  const pixelTiles = Math.ceil(pixels / (t.wy * t.tm));
  const u = packConvGeometry(new Uniforms(16), g)
    .u32(pixels, cout4, colTiles, pixelTiles, g.hasBias ? 1 : 0, g.kh * g.kw * g.cin);
  gpu.dispatch({
    kernel,
    shader: 'conv2d_workgroup_tile.wgsl',
    defines: { WX: t.wx, WY: t.wy, TM: t.tm, NV: t.nv, BK: t.bk },
    uniforms: u.bytes(),
    // Without a bias the weights stand in at its binding (discarded, as in conv2dTiled).
    buffers: [x, w, bias ?? w, y],
    workgroups: grid1d(pixelTiles * colTiles, 1),
  });
  return y;
}

/** The layer's fields that open every conv kernel's Params (shaders/conv_geometry_fields.wgsl), in order. */
export function packConvGeometry(u: Uniforms, g: Conv2dGeometry): Uniforms {
  return u.u32(g.h, g.w, g.cin, g.cout, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow);
}

/** dbias[co] = sum over n, oh, ow of dy: dy viewed as [1, pixels, cout], summed over the middle axis. */
export function conv2dBiasGrad(gpu: Gpu, dy: BufferRef, g: Conv2dGeometry): BufferRef {
  return reduceMiddle(gpu, dy, 1, g.n * g.oh * g.ow, g.cout);
}
