// The weight gradient of conv2d: split-K over output rows on register, shared or workgroup-memory tiles
// (variant.ts; each may carry its own split target), the partials summed by reduceMiddle; or for wide
// 3x3 stride-1 layers Winograd F(2x2, 3x3) (winograd.ts). Shaders:
// shaders/conv2d_weight_grad.wgsl, shaders/conv2d_weight_grad_workgroup_tile.wgsl, and shaders/reduce.wgsl
// through reduceMiddle. Also its candidates, refined over split targets, and its tuning descriptor
// (WEIGHT_GRAD_KERNEL, listed by index.ts).
import type { Conv2dGeometry } from '../../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../../gpu/gpu.js';
import { SHARE, canRunSharedTiles, sharedWorkgroup } from '../../gpu/subgroups.js';
import { distinct } from '../autotune.js';
import { type TileRules, WORKGROUP_TILES, onDiscrete, packConvGeometry, register, sharedTiles, sharesLanes, tileProblem } from './tiles.js';
import { type TunedConvKernel, named } from './descriptor.js';
import { type RegisterTile, type SharedTile, WEIGHT_GRAD_KINDS, type WeightGradVariant, type WinogradTile, type WorkgroupTile, parseRunnable, unknownKind } from './variant.js';
import { conv2dWeightGradWinograd, winogradProblem, winogradTiles } from './winograd.js';
import { reduceMiddle } from '../reduce.js';

const F32 = 4;

export const WEIGHT_GRAD_TILE: RegisterTile = { kind: 'register', tm: 2, nv: 2, wg: 64 };
/**
 * The shared tile, measured on lavapipe over the UNet's layers at batch 2, 64x64 (tm x nv of 4 x 1,
 * 8 x 1, 16 x 1, 4 x 2; workgroups of 8 and 16): 8 x 1 in one subgroup runs 16-24 GFLOP/s on the
 * 3x3 layers, 1.4-1.9x the plain tile; layers of 64 output channels or more take 4 x 2 (see
 * sharedWeightGradTile).
 */
export const SHARED_WEIGHT_GRAD_TILE: SharedTile = { kind: 'shared', tm: 8, nv: 1, wg: 8 };

/** What the weight gradient's tiles need beyond the limits, subgroups and (workgroup tiles) vec4 channels. */
const WEIGHT_GRAD_RULES: TileRules = {
  // Shared: x comes through subgroupShuffle SHARE pixels at a time, from whole groups of SHARE lanes.
  shared: (_g, t) => (t.wg % SHARE === 0 ? null : `wg a multiple of ${SHARE}`),
  // Workgroup: the im2col slab is loaded as vec4 along its wy * tm weight rows.
  workgroup: (t) => ((t.wy * t.tm) % 4 === 0 ? null : 'wy * tm a multiple of 4'),
};

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

/** `t` (from a tuning file: anything) as a weight-gradient variant that can run this layer here, or null. */
export function parseWeightGradVariant(gpu: Gpu, g: Conv2dGeometry, t: unknown): WeightGradVariant | null {
  return parseRunnable(t, WEIGHT_GRAD_KINDS, (v) => weightGradTileProblem(gpu, g, v), ['targetInvocations']);
}

/** The shaders the weight gradient's variants run: their text keys its tuning entries. */
export const WEIGHT_GRAD_SHADERS = ['conv2d_weight_grad.wgsl', 'conv2d_weight_grad_workgroup_tile.wgsl', 'reduce.wgsl', 'winograd_transform.wgsl', 'winograd_weight_grad_gemm.wgsl'];

/** Why a tile cannot run this layer on this device, or null. */
export function weightGradTileProblem(gpu: Gpu, g: Conv2dGeometry, tile: WeightGradVariant): string | null {
  return tile.kind === 'winograd' ? winogradProblem(gpu, g, tile) : tileProblem(gpu, g, tile, WEIGHT_GRAD_RULES);
}

/**
 * The Winograd weight gradient's tile (16 input channels by one vec4 column of output channels a lane,
 * one subgroup) and where the heuristic takes it: 128 tiles or more, 64 input and 32 output channels or
 * more. Measured on lavapipe at batch 2, 128x128 against the default direct tile (bench/RESULTS.md,
 * 2026-12-07): 0.5-0.9x the time on layer1, layer2 and decoder1-3's first convolutions; level on layer3
 * (32 tiles), 2x on layer4 (8 tiles: the transforms of 512 x 512 weights dominate), slower on decoder4.
 */
export const WINOGRAD_WEIGHT_GRAD_TILE: WinogradTile = { kind: 'winograd', tm: 16, nv: 1, wg: 8 };
export function winogradWeightGradPays(g: Conv2dGeometry): boolean {
  return winogradTiles(g).tiles >= 128 && g.cin >= 64 && g.cout >= 32;
}

/**
 * Winograd where it pays (winogradWeightGradPays); else the shared tile where the device has subgroups
 * and the layer fills it: at least one vec4 column of
 * output channels per lane (decoder4's 16 and the head's 1 measured faster on the plain tile) and two
 * vec4 groups of input channels (the stem's 4 measured no faster shared).
 */
export function defaultWeightGradTile(gpu: Gpu, g: Conv2dGeometry): RegisterTile | SharedTile | WinogradTile {
  if (winogradWeightGradPays(g) && winogradProblem(gpu, g, WINOGRAD_WEIGHT_GRAD_TILE) === null) return WINOGRAD_WEIGHT_GRAD_TILE;
  return sharedWeightGradTileFor(gpu, g);
}

/** The default without Winograd: the shared tile where the layer fills it, else the plain one. */
export function sharedWeightGradTileFor(gpu: Gpu, g: Conv2dGeometry): RegisterTile | SharedTile {
  const fills = g.cout >= 4 * SHARE && g.cin >= 8;
  return canRunSharedTiles(gpu) && fills ? sharedWeightGradTile(g) : WEIGHT_GRAD_TILE;
}

/**
 * SHARED_WEIGHT_GRAD_TILE fitted to a layer: where there are two vec4 columns for every lane (64 output
 * channels or more) the same registers hold 4 x 2, measured up to 25% faster there (decoder1: 27 against
 * 22 GFLOP/s); on decoder3's 32 channels it would idle half the lanes.
 */
function sharedWeightGradTile(g: Conv2dGeometry): SharedTile {
  const t = SHARED_WEIGHT_GRAD_TILE;
  return Math.ceil(g.cout / 4) >= 2 * t.nv * t.wg ? { ...t, tm: t.tm / 2, nv: t.nv * 2 } : t;
}

/**
 * The weight gradient's register or shared tiles over one split: (tap, channel group, output-channel
 * group), one per invocation, or shared one per workgroup (its wg lanes side by side along the output
 * channels).
 */
function weightGradLayout(g: Conv2dGeometry, tile: RegisterTile | SharedTile) {
  const shared = sharesLanes(tile);
  const cin4 = Math.ceil(g.cin / 4);
  const cout4 = Math.ceil(g.cout / 4);
  // Narrow layers (the stem's 3 input channels, the head's 1 output) use as few columns as they have.
  const tm = Math.min(tile.tm, cin4);
  const nv = Math.min(tile.nv, cout4);
  const ciTiles = Math.ceil(cin4 / tm);
  const colTiles = Math.ceil(cout4 / (shared ? nv * tile.wg : nv));
  const tilesPerSplit = g.kh * g.kw * ciTiles * colTiles;
  const invocationsPerSplit = tilesPerSplit * (shared ? tile.wg : 1);
  return { shared, cin4, cout4, tm, nv, ciTiles, colTiles, tilesPerSplit, invocationsPerSplit };
}

/** Invocations of one split of the pixel sum. */
function invocationsPerSplit(g: Conv2dGeometry, tile: WeightGradVariant): number {
  switch (tile.kind) {
    case 'register':
    case 'shared':
      return weightGradLayout(g, tile).invocationsPerSplit;
    case 'workgroup':
      return workgroupWeightLayout(g, tile).invocationsPerSplit;
    case 'winograd':
      // Never split: the sum over the tiles runs in one dispatch.
      return Infinity;
    default:
      return unknownKind(tile);
  }
}

/**
 * How many ranges of output rows the weight gradient's pixel sum is split into: enough invocations to
 * fill the device, no more than the partials' memory budget (and one binding) holds, and no split
 * smaller than MIN_PIXELS_PER_SPLIT. Depends only on the shape and the device, so results repeat.
 */
export function weightGradSplits(gpu: Gpu, g: Conv2dGeometry, tile: WeightGradVariant = defaultWeightGradTile(gpu, g)): number {
  const rows = g.n * g.oh;
  if (tile.kind === 'winograd') return 1;
  const target = tile.targetInvocations ?? defaultTargetInvocations(gpu);
  const outBytes = g.kh * g.kw * g.cin * g.cout * F32;
  const byParallelism = Math.ceil(target / invocationsPerSplit(g, tile));
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
function workgroupWeightLayout(g: Conv2dGeometry, t: WorkgroupTile) {
  const rowTiles = Math.ceil((g.kh * g.kw * g.cin) / (t.wy * t.tm));
  const colTiles = Math.ceil(g.cout / 4 / (t.wx * t.nv));
  return { rowTiles, colTiles, invocationsPerSplit: rowTiles * colTiles * t.wx * t.wy };
}

/** conv2dWeightGrad with a chosen tile (for the tuner, benchmarks and tile tests). */
export function conv2dWeightGradTiled(gpu: Gpu, x: BufferRef, dy: BufferRef, g: Conv2dGeometry, tile: WeightGradVariant): BufferRef {
  const problem = weightGradTileProblem(gpu, g, tile);
  if (problem) throw new Error(`conv2dWeightGrad: tile ${JSON.stringify(tile)} ${problem}`);
  if (tile.kind === 'winograd') return conv2dWeightGradWinograd(gpu, x, dy, g, tile, 'conv2dWeightGrad');
  const outSize = g.kh * g.kw * g.cin * g.cout;
  const splits = weightGradSplits(gpu, g, tile);
  const rowsPerSplit = Math.ceil((g.n * g.oh) / splits);
  const partials = gpu.alloc(splits * outSize * F32, splits === 1 ? 'conv2dWeightGrad' : 'conv2dWeightGradPartials');
  switch (tile.kind) {
    case 'register':
    case 'shared':
      dispatchRegisterWeightGrad(gpu, x, dy, partials, g, tile, splits, rowsPerSplit);
      break;
    case 'workgroup':
      dispatchWorkgroupWeightGrad(gpu, x, dy, partials, g, tile, splits, rowsPerSplit);
      break;
    default:
      unknownKind(tile);
  }
  if (splits === 1) return partials;
  // Partials viewed as [1, splits, outSize]: a fixed-order sum over the middle axis.
  const dw = reduceMiddle(gpu, partials, 1, splits, outSize);
  gpu.release(partials);
  return dw;
}

function dispatchRegisterWeightGrad(gpu: Gpu, x: BufferRef, dy: BufferRef, partials: BufferRef, g: Conv2dGeometry, tile: RegisterTile | SharedTile, splits: number, rowsPerSplit: number): void {
  // Shared: whole subgroups only, so every lane a shuffle reads from exists. (The split count was taken
  // on the tile as given, as weightGradSplits takes it.)
  const wg = sharesLanes(tile) ? sharedWorkgroup(gpu, tile.wg) : tile.wg;
  const { shared, cin4, cout4, tm, nv, ciTiles, colTiles, tilesPerSplit } = weightGradLayout(g, { ...tile, wg });
  const u = packConvGeometry(new Uniforms(20), g)
    .u32(g.n * g.oh, rowsPerSplit, splits, cin4, cout4, ciTiles, colTiles);
  gpu.dispatch({
    kernel: 'conv2dWeightGrad',
    shader: 'conv2d_weight_grad.wgsl',
    defines: { WG: wg, TV: tm, NV: nv, VEC_X: g.cin % 4 === 0, VEC_DY: g.cout % 4 === 0, SHARE_X: shared, SHARE },
    uniforms: u.bytes(),
    buffers: [x, dy, partials],
    // Shared: one workgroup per grid1d "invocation".
    workgroups: grid1d(splits * tilesPerSplit, shared ? 1 : wg),
  });
}

function dispatchWorkgroupWeightGrad(gpu: Gpu, x: BufferRef, dy: BufferRef, partials: BufferRef, g: Conv2dGeometry, t: WorkgroupTile, splits: number, rowsPerSplit: number): void {
  const { rowTiles, colTiles } = workgroupWeightLayout(g, t);
  const u = packConvGeometry(new Uniforms(20), g)
    .u32(g.n * g.oh * g.ow, rowsPerSplit * g.ow, splits, g.cout / 4, rowTiles, colTiles, g.kh * g.kw * g.cin);
  gpu.dispatch({
    kernel: 'conv2dWeightGrad',
    shader: 'conv2d_weight_grad_workgroup_tile.wgsl',
    defines: { WX: t.wx, WY: t.wy, TK: t.tm, NV: t.nv, BP: t.bk },
    uniforms: u.bytes(),
    buffers: [x, dy, partials],
    workgroups: grid1d(splits * rowTiles * colTiles, 1),
  });
}

// ---- candidates: what the autotuner measures (see tiles.ts) -------------------------------------------

/** The weight gradient's (weight rows x output channels): the same but the 128 x 128 tile. */
export const WEIGHT_GRAD_WORKGROUP_TILES: readonly WorkgroupTile[] = WORKGROUP_TILES.filter((t) => t.wy * t.tm < 128 || t.wx * t.nv * 4 < 128);

/** Tiles at the device's default split target; splitCandidates varies the target of the winner. */
export function weightGradCandidates(gpu: Gpu, g: Conv2dGeometry): WeightGradVariant[] {
  const shared = canRunSharedTiles(gpu) ? sharedTiles([4, 8]) : [];
  const plain = [WEIGHT_GRAD_TILE, register(1, 4, 64), register(4, 1, 64), register(2, 4, 64)];
  const winograd = [16, 32].flatMap((tm) => [1, 2].map((nv): WinogradTile => ({ kind: 'winograd', tm, nv, wg: 8 })));
  const runnable = winograd.filter((t) => winogradProblem(gpu, g, t) === null);
  return distinct<WeightGradVariant>([defaultWeightGradTile(gpu, g), ...runnable, ...shared, ...plain, ...onDiscrete(gpu, g, WEIGHT_GRAD_WORKGROUP_TILES)]);
}

/** Split targets around the device's default (4x fewer and 4x more invocations), where they change the split. */
export function splitCandidates(gpu: Gpu, g: Conv2dGeometry, tile: WeightGradVariant): WeightGradVariant[] {
  if (tile.kind === 'winograd') return [tile];
  const base = tile.targetInvocations ?? defaultTargetInvocations(gpu);
  const seen = new Set([weightGradSplits(gpu, g, tile)]);
  const out = [tile];
  for (const targetInvocations of [base / 4, base * 4]) {
    const t = { ...tile, targetInvocations };
    const splits = weightGradSplits(gpu, g, t);
    if (!seen.has(splits)) {
      seen.add(splits);
      out.push(t);
    }
  }
  return out;
}

/** The weight gradient for the tuner (index.ts lists it): refined over split targets. */
export const WEIGHT_GRAD_KERNEL: TunedConvKernel<WeightGradVariant> = {
  ...named('conv2dWeightGrad', WEIGHT_GRAD_SHADERS),
  defaultVariant: defaultWeightGradTile,
  candidates: weightGradCandidates,
  refine: splitCandidates,
  problem: weightGradTileProblem,
  parse: parseWeightGradVariant,
  record: (gpu, b, g, v) => conv2dWeightGradTiled(gpu, b.x, b.dy, g, v),
};
