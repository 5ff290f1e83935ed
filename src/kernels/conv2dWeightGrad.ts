// The weight gradient of conv2d: split-K over output rows on register tiles or workgroup-memory tiles,
// the partials summed by reduceMiddle. Shaders: shaders/conv2d_weight_grad.wgsl,
// shaders/conv2d_weight_grad_workgroup_tile.wgsl, and shaders/reduce.wgsl through reduceMiddle.
import type { Conv2dGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { shaderHash } from '../gpu/pipelines.js';
import { SHARE, canShareA, sharedWorkgroup } from '../gpu/subgroups.js';
import { TuningTable } from '../gpu/tuning.js';
import { hasFields, tunedChoice } from './autotune.js';
import { packConvGeometry, workgroupLimitsProblem } from './conv2d.js';
import { reduceMiddle } from './reduce.js';

const F32 = 4;

/** Weight-gradient register tile: TV vec4 groups of input channels x NV vec4 columns of output channels. */
export interface WeightGradTile {
  tv: number;
  nv: number;
  wg: number;
  /**
   * The workgroup's lanes share their weight rows (each takes its own NV columns of output channels) and
   * load x through subgroupShuffle, SHARE pixels at a time (as conv2d's shareX): needs subgroups.
   */
  shareX?: boolean;
  /**
   * Invocations to fill the device with before the pixel sum stops being split (default: by device
   * class, see TARGET_INVOCATIONS_*); a tuned tile may carry its own.
   */
  targetInvocations?: number;
}

/**
 * A workgroup-memory weight-gradient tile (shaders/conv2d_weight_grad_workgroup_tile.wgsl), the
 * discrete-GPU candidate: WX x WY invocations, each TK weight rows x NV vec4 columns of output channels,
 * staging BP pixels at a time. Needs cin and cout multiples of 4, and WY * TK a multiple of 4.
 */
export interface WeightGradWorkgroupTile {
  workgroup: true;
  wx: number;
  wy: number;
  tk: number;
  nv: number;
  bp: number;
  /** As WeightGradTile's. */
  targetInvocations?: number;
}

export type WeightGradVariant = WeightGradTile | WeightGradWorkgroupTile;

function isWorkgroupWeightTile(t: WeightGradVariant): t is WeightGradWorkgroupTile {
  return (t as WeightGradWorkgroupTile).workgroup === true;
}

/** Workgroup memory a workgroup weight tile takes: its im2col slab (BP x BMK) and dy slab (BP x BN). */
export function weightGradWorkgroupBytes(t: WeightGradWorkgroupTile): number {
  return t.bp * t.wy * t.tk * 4 + t.bp * t.wx * t.nv * 16;
}

export const WEIGHT_GRAD_TILE: WeightGradTile = { tv: 2, nv: 2, wg: 64 };
/**
 * The shared tile, measured on lavapipe over the UNet's layers at batch 2, 64x64 (tv x nv of 4 x 1,
 * 8 x 1, 16 x 1, 4 x 2; workgroups of 8 and 16): 8 x 1 in one subgroup runs 16-24 GFLOP/s on the
 * 3x3 layers, 1.4-1.9x the plain tile; layers of 64 output channels or more take 4 x 2 (see
 * sharedWeightGradTile).
 */
export const SHARED_WEIGHT_GRAD_TILE: WeightGradTile = { tv: 8, nv: 1, wg: 8, shareX: true };

/**
 * Invocations the weight gradient asks for before it stops splitting the pixel sum: enough for the
 * SIMD lanes of every core of a CPU driver; a discrete GPU needs far more threads in flight.
 */
const TARGET_INVOCATIONS_SOFTWARE = 16_384;
const TARGET_INVOCATIONS_GPU = 131_072;
/**
 * A split sums at least this many pixels, so writing and re-reading its partials stays small beside its
 * work (on lavapipe 512 measured up to 1.4x faster than 128 on the UNet's layers, both tiles).
 */
const MIN_PIXELS_PER_SPLIT = 512;
/** Memory the partial sums may take (the 512 x 512 x 3 x 3 layer's weights are 9.4 MB a split). */
const PARTIALS_BUDGET_BYTES = 64 * 2 ** 20;

export function conv2dWeightGrad(gpu: Gpu, tuning: TuningTable, x: BufferRef, dy: BufferRef, g: Conv2dGeometry): BufferRef {
  return conv2dWeightGradTiled(gpu, x, dy, g, chooseWeightGradTile(gpu, tuning, g));
}

/** The tile the weight gradient runs a layer with: the one `tuning` holds for this shape, else the heuristic. */
export function chooseWeightGradTile(gpu: Gpu, tuning: TuningTable, g: Conv2dGeometry): WeightGradVariant {
  return tunedChoice(tuning, () => weightGradTuningKey(g), (t): t is WeightGradVariant => isUsableWeightGradTile(gpu, g, t)) ?? defaultWeightGradTile(gpu, g);
}

/** Whether `t` (from a tuning file: anything) is a weight-gradient variant that can run this layer here. */
export function isUsableWeightGradTile(gpu: Gpu, g: Conv2dGeometry, t: unknown): t is WeightGradVariant {
  return (
    ((t as { workgroup?: unknown } | null)?.workgroup === true ? hasFields(t, ['wx', 'wy', 'tk', 'nv', 'bp']) : hasFields(t, ['tv', 'nv', 'wg'], ['shareX'])) &&
    ((t as { targetInvocations?: unknown }).targetInvocations === undefined || hasFields(t, ['targetInvocations'])) &&
    weightGradTileProblem(gpu, g, t as unknown as WeightGradVariant) === null
  );
}

/** The shaders the weight gradient's variants run: their text keys its tuning entries. */
export const WEIGHT_GRAD_SHADERS = ['conv2d_weight_grad.wgsl', 'conv2d_weight_grad_workgroup_tile.wgsl', 'reduce.wgsl'];

export function weightGradTuningKey(g: Conv2dGeometry): string {
  return TuningTable.key('conv2dWeightGrad', shaderHash(WEIGHT_GRAD_SHADERS), g);
}

/** Why a tile cannot run this layer on this device, or null. */
export function weightGradTileProblem(gpu: Gpu, g: Conv2dGeometry, tile: WeightGradVariant): string | null {
  if (isWorkgroupWeightTile(tile)) {
    if (g.cin % 4 !== 0 || g.cout % 4 !== 0) return `needs cin ${g.cin} and cout ${g.cout} multiples of 4`;
    if ((tile.wy * tile.tk) % 4 !== 0) return 'needs wy * tk a multiple of 4';
    return workgroupLimitsProblem(gpu, tile.wx, tile.wy, weightGradWorkgroupBytes(tile));
  }
  const limits = workgroupLimitsProblem(gpu, tile.wg, 1, 0);
  if (limits) return limits;
  if (tile.shareX && (tile.wg % SHARE !== 0 || !canShareA(gpu))) return `needs wg a multiple of ${SHARE} and subgroups of at least ${SHARE} lanes`;
  return null;
}

/**
 * The shared tile where the device has subgroups and the layer fills it: at least one vec4 column of
 * output channels per lane (decoder4's 16 and the head's 1 measured faster on the plain tile) and two
 * vec4 groups of input channels (the stem's 4 measured no faster shared).
 */
export function defaultWeightGradTile(gpu: Gpu, g: Conv2dGeometry): WeightGradTile {
  const fills = g.cout >= 4 * SHARE && g.cin >= 8;
  return canShareA(gpu) && fills ? sharedWeightGradTile(g) : WEIGHT_GRAD_TILE;
}

/**
 * SHARED_WEIGHT_GRAD_TILE fitted to a layer: where there are two vec4 columns for every lane (64 output
 * channels or more) the same registers hold 4 x 2, measured up to 25% faster there (decoder1: 27 against
 * 22 GFLOP/s); on decoder3's 32 channels it would idle half the lanes.
 */
function sharedWeightGradTile(g: Conv2dGeometry): WeightGradTile {
  const t = SHARED_WEIGHT_GRAD_TILE;
  return Math.ceil(g.cout / 4) >= 2 * t.nv * t.wg ? { ...t, tv: t.tv / 2, nv: t.nv * 2 } : t;
}

/**
 * The weight gradient's tiles over one split: (tap, channel group, output-channel group), one per
 * invocation, or with shareX one per workgroup (its wg lanes side by side along the output channels).
 */
function weightGradLayout(g: Conv2dGeometry, tile: WeightGradTile) {
  const cin4 = Math.ceil(g.cin / 4);
  const cout4 = Math.ceil(g.cout / 4);
  // Narrow layers (the stem's 3 input channels, the head's 1 output) use as few columns as they have.
  const tv = Math.min(tile.tv, cin4);
  const nv = Math.min(tile.nv, cout4);
  const ciTiles = Math.ceil(cin4 / tv);
  const colTiles = Math.ceil(cout4 / (tile.shareX ? nv * tile.wg : nv));
  const tilesPerSplit = g.kh * g.kw * ciTiles * colTiles;
  const invocationsPerSplit = tilesPerSplit * (tile.shareX ? tile.wg : 1);
  return { cin4, cout4, tv, nv, ciTiles, colTiles, tilesPerSplit, invocationsPerSplit };
}

/**
 * How many ranges of output rows the weight gradient's pixel sum is split into: enough invocations to
 * fill the device, no more than the partials' memory budget (and one binding) holds, and no split
 * smaller than MIN_PIXELS_PER_SPLIT. Depends only on the shape and the device, so results repeat.
 */
export function weightGradSplits(gpu: Gpu, g: Conv2dGeometry, tile: WeightGradVariant = defaultWeightGradTile(gpu, g)): number {
  const invocationsPerSplit = isWorkgroupWeightTile(tile) ? workgroupWeightLayout(g, tile).invocationsPerSplit : weightGradLayout(g, tile).invocationsPerSplit;
  const rows = g.n * g.oh;
  const target = tile.targetInvocations ?? defaultTargetInvocations(gpu);
  const outBytes = g.kh * g.kw * g.cin * g.cout * F32;
  const byParallelism = Math.ceil(target / invocationsPerSplit);
  const byWork = Math.floor((rows * g.ow) / MIN_PIXELS_PER_SPLIT);
  const byMemory = Math.floor(Math.min(PARTIALS_BUDGET_BYTES, gpu.limits.maxStorageBufferBindingSize) / outBytes);
  const splits = Math.max(1, Math.min(byParallelism, byWork, byMemory, rows));
  // Equal row ranges, none empty.
  return Math.ceil(rows / Math.ceil(rows / splits));
}

export function defaultTargetInvocations(gpu: Gpu): number {
  return gpu.isSoftware ? TARGET_INVOCATIONS_SOFTWARE : TARGET_INVOCATIONS_GPU;
}

/** The workgroup weight tile's workgroups over one split: (row tile, column tile). */
function workgroupWeightLayout(g: Conv2dGeometry, t: WeightGradWorkgroupTile) {
  const rowTiles = Math.ceil((g.kh * g.kw * g.cin) / (t.wy * t.tk));
  const colTiles = Math.ceil(g.cout / 4 / (t.wx * t.nv));
  return { rowTiles, colTiles, invocationsPerSplit: rowTiles * colTiles * t.wx * t.wy };
}

/** conv2dWeightGrad with a chosen tile (for the tuner, benchmarks and tile tests). */
export function conv2dWeightGradTiled(gpu: Gpu, x: BufferRef, dy: BufferRef, g: Conv2dGeometry, tile: WeightGradVariant): BufferRef {
  const problem = weightGradTileProblem(gpu, g, tile);
  if (problem) throw new Error(`conv2dWeightGrad: tile ${JSON.stringify(tile)} ${problem}`);
  const outSize = g.kh * g.kw * g.cin * g.cout;
  const splits = weightGradSplits(gpu, g, tile);
  const rowsPerSplit = Math.ceil((g.n * g.oh) / splits);
  const partials = gpu.alloc(splits * outSize * F32, splits === 1 ? 'conv2dWeightGrad' : 'conv2dWeightGradPartials');
  if (isWorkgroupWeightTile(tile)) dispatchWorkgroupWeightGrad(gpu, x, dy, partials, g, tile, splits, rowsPerSplit);
  else dispatchRegisterWeightGrad(gpu, x, dy, partials, g, tile, splits, rowsPerSplit);
  if (splits === 1) return partials;
  // Partials viewed as [1, splits, outSize]: a fixed-order sum over the middle axis.
  const dw = reduceMiddle(gpu, partials, 1, splits, outSize);
  gpu.release(partials);
  return dw;
}

function dispatchRegisterWeightGrad(gpu: Gpu, x: BufferRef, dy: BufferRef, partials: BufferRef, g: Conv2dGeometry, tile: WeightGradTile, splits: number, rowsPerSplit: number): void {
  // Shared: whole subgroups only, so every lane a shuffle reads from exists.
  if (tile.shareX) tile = { ...tile, wg: sharedWorkgroup(gpu, tile.wg) };
  const { cin4, cout4, tv, nv, ciTiles, colTiles, tilesPerSplit } = weightGradLayout(g, tile);
  const u = packConvGeometry(new Uniforms(20), g)
    .u32(g.n * g.oh, rowsPerSplit, splits, cin4, cout4, ciTiles, colTiles);
  gpu.dispatch({
    kernel: 'conv2dWeightGrad',
    shader: 'conv2d_weight_grad.wgsl',
    defines: { WG: tile.wg, TV: tv, NV: nv, VEC_X: g.cin % 4 === 0, VEC_DY: g.cout % 4 === 0, SHARE_X: !!tile.shareX, SHARE },
    uniforms: u.bytes(),
    buffers: [x, dy, partials],
    // Shared: one workgroup per grid1d "invocation".
    workgroups: grid1d(splits * tilesPerSplit, tile.shareX ? 1 : tile.wg),
  });
}

function dispatchWorkgroupWeightGrad(gpu: Gpu, x: BufferRef, dy: BufferRef, partials: BufferRef, g: Conv2dGeometry, t: WeightGradWorkgroupTile, splits: number, rowsPerSplit: number): void {
  const { rowTiles, colTiles } = workgroupWeightLayout(g, t);
  const u = packConvGeometry(new Uniforms(20), g)
    .u32(g.n * g.oh * g.ow, rowsPerSplit * g.ow, splits, g.cout / 4, rowTiles, colTiles, g.kh * g.kw * g.cin);
  gpu.dispatch({
    kernel: 'conv2dWeightGrad',
    shader: 'conv2d_weight_grad_workgroup_tile.wgsl',
    defines: { WX: t.wx, WY: t.wy, TK: t.tk, NV: t.nv, BP: t.bp },
    uniforms: u.bytes(),
    buffers: [x, dy, partials],
    workgroups: grid1d(splits * rowTiles * colTiles, 1),
  });
}
