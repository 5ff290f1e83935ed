// The input gradient of conv2d: a transposed convolution, decomposed by stride parity class, on
// register tiles (the weights transposed first), or for stride-1 layers a forward convolution with the
// taps flipped. Shaders: shaders/conv2d_weight_transpose.wgsl, shaders/conv2d_input_grad.wgsl, and
// conv2d's through conv2dTiled.
import type { Conv2dGeometry } from '../core/geometry.js';
import { conv2dGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { shaderHash } from '../gpu/pipelines.js';
import { SHARE, canShareA, sharedWorkgroup } from '../gpu/subgroups.js';
import { TuningTable } from '../gpu/tuning.js';
import { hasFields, tunedChoice } from './autotune.js';
import { type Conv2dVariant, conv2dTileProblem, conv2dTiled, fitSharedTm, isUsableConv2dTile, packConvGeometry, pixelGroups, workgroupLimitsProblem } from './conv2d.js';

const F32 = 4;
/** Workgroup size of shaders/conv2d_weight_transpose.wgsl. */
const TRANSPOSE_GROUP = 64;

/** Input-gradient register tile: TM input pixels x NV vec4 columns of input channels per invocation. */
export interface InputGradTile {
  tm: number;
  nv: number;
  /** Invocations per workgroup. */
  wg: number;
  /**
   * The workgroup's lanes share their TM pixels (each takes its own NV columns) and load dy through
   * subgroupShuffle (as conv2d's shareX): needs tm a multiple of SHARE and subgroups.
   */
  shareDy?: boolean;
}

/**
 * The input gradient of a stride-1 layer as a forward convolution of dy with the weights transposed
 * (cin and cout swapped) and flipped (taps reversed), padded by k - 1 - pad, on any tile of the forward
 * kernels (cin and cout multiples of 4, square kernels): a tuning candidate on the forward's default
 * tile everywhere, and on its workgroup tiles on discrete GPUs.
 */
export interface InputGradViaForward {
  viaForward: Conv2dVariant;
}


export type InputGradVariant = InputGradTile | InputGradViaForward;

function isViaForward(t: InputGradVariant): t is InputGradViaForward {
  return (t as InputGradViaForward).viaForward !== undefined;
}

/** The forward convolution whose output is dx (see InputGradViaForward). */
export function inputGradAsForward(g: Conv2dGeometry): Conv2dGeometry {
  return conv2dGeometry([g.n, g.oh, g.ow, g.cout], [g.kh, g.kw, g.cout, g.cin], 1, g.kh - 1 - g.pad, false);
}

/** Fastest measured on lavapipe (3x3, 64 -> 64, batch 2, 64x64). */
export const INPUT_GRAD_TILE: InputGradTile = { tm: 4, nv: 2, wg: 64 };
/**
 * The shared tile, measured on lavapipe over the UNet's layers at batch 2, 64x64 (tm 8, 16, 32; nv 1
 * and 2; workgroups of 8 and 16): tm 16, nv 1, one subgroup per workgroup runs 12-24 GFLOP/s on the
 * 3x3 layers, 2-4x the plain tile (which also pays for the weight transpose); tm 32 runs 4x slower.
 */
export const SHARED_INPUT_GRAD_TILE: InputGradTile = { tm: 16, nv: 1, wg: 8, shareDy: true };

export function conv2dInputGrad(gpu: Gpu, tuning: TuningTable, dy: BufferRef, w: BufferRef, g: Conv2dGeometry): BufferRef {
  return conv2dInputGradTiled(gpu, dy, w, g, chooseInputGradTile(gpu, tuning, g));
}

/** The tile the input gradient runs a layer with: the one `tuning` holds for this shape, else the heuristic. */
export function chooseInputGradTile(gpu: Gpu, tuning: TuningTable, g: Conv2dGeometry): InputGradVariant {
  return tunedChoice(tuning, () => inputGradTuningKey(g), (t): t is InputGradVariant => isUsableInputGradTile(gpu, g, t)) ?? defaultInputGradTile(gpu, g);
}

/** Whether `t` (from a tuning file: anything) is an input-gradient variant that can run this layer here. */
export function isUsableInputGradTile(gpu: Gpu, g: Conv2dGeometry, t: unknown): t is InputGradVariant {
  const forward = (t as { viaForward?: unknown } | null)?.viaForward;
  if (forward !== undefined) return viaForwardProblem(g) === null && isUsableConv2dTile(gpu, inputGradAsForward(g), forward);
  return hasFields(t, ['tm', 'nv', 'wg'], ['shareDy']) && inputGradTileProblem(gpu, g, t as unknown as InputGradVariant) === null;
}

/**
 * The heuristic: the shared tile where the device has subgroups. (The forward route on the shared
 * forward tile ran some wide layers 10-20% faster in isolation on lavapipe: 64 -> 64 at 2x32x32 in 5.1
 * against 5.8 ms, 128 -> 128 at 2x16x16 in 4.4 against 5.6; but 32 -> 32 slower, and as a default for
 * the wide layers it left the step unchanged within the noise, partly for the weights' transposed copies,
 * 41 ms a step when every wide layer took it. So it is the tuner's to choose, layer by layer.)
 */
export function defaultInputGradTile(gpu: Gpu, g: Conv2dGeometry): InputGradVariant {
  return canShareA(gpu) ? sharedInputGradTileFor(gpu, g, SHARED_INPUT_GRAD_TILE) : INPUT_GRAD_TILE;
}

/** Why this layer's input gradient cannot run as a forward convolution, or null. */
export function viaForwardProblem(g: Conv2dGeometry): string | null {
  if (g.stride !== 1 || g.kh !== g.kw || g.pad > g.kh - 1 || g.cin % 4 !== 0 || g.cout % 4 !== 0) {
    return `needs stride 1, a square kernel, pad < k and cin, cout multiples of 4 (got stride ${g.stride}, ${g.kh}x${g.kw}, pad ${g.pad}, ${g.cin} -> ${g.cout})`;
  }
  return null;
}

/** The shaders the input gradient's variants run: their text keys its tuning entries. */
export const INPUT_GRAD_SHADERS = ['conv2d_input_grad.wgsl', 'conv2d_weight_transpose.wgsl', 'conv2d.wgsl', 'conv2d_workgroup_tile.wgsl'];

export function inputGradTuningKey(g: Conv2dGeometry): string {
  return TuningTable.key('conv2dInputGrad', shaderHash(INPUT_GRAD_SHADERS), g);
}

/** Why a tile cannot run this layer on this device, or null. */
export function inputGradTileProblem(gpu: Gpu, g: Conv2dGeometry, tile: InputGradVariant): string | null {
  if (isViaForward(tile)) return viaForwardProblem(g) ?? conv2dTileProblem(gpu, inputGradAsForward(g), tile.viaForward);
  const limits = workgroupLimitsProblem(gpu, tile.wg, 1, 0);
  if (limits) return limits;
  if (tile.shareDy && (tile.tm % SHARE !== 0 || !canShareA(gpu))) return `needs tm a multiple of ${SHARE} and subgroups of at least ${SHARE} lanes`;
  return null;
}

/** Pixels of the largest stride parity class, (0, 0). */
function classPixels(g: Conv2dGeometry): number {
  return g.n * Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride);
}

/**
 * Pixels of a shared input-gradient workgroup tile at most: narrow layers keep tm 16 per pixel group
 * (decoder4's 2 groups: 16 measured faster than 8), but the stem's 8 groups run faster at tm 8.
 */
const SHARED_INPUT_GRAD_MAX_TILE_PIXELS = 64;

/** A shared tile fitted to a layer and device (see SHARED_INPUT_GRAD_MAX_TILE_PIXELS and fitSharedTm). */
export function sharedInputGradTileFor(gpu: Gpu, g: Conv2dGeometry, t: InputGradTile): InputGradTile {
  const wg = sharedWorkgroup(gpu, t.wg);
  const pg = pixelGroups(Math.ceil(g.cin / 4), t.nv, wg);
  const tm = Math.min(t.tm, Math.max(SHARE, SHARED_INPUT_GRAD_MAX_TILE_PIXELS / pg));
  return { ...t, wg, tm: fitSharedTm(tm, pg, classPixels(g)) };
}

/**
 * HWIO weights as [kh, kw, cout padded to 4, cin padded to 4], the layout the input gradient reads;
 * with `flip` the taps reversed too: the weights of the input gradient as a forward convolution.
 */
function transposeWeights(gpu: Gpu, w: BufferRef, g: Conv2dGeometry, flip = false): BufferRef {
  const cin4 = Math.ceil(g.cin / 4);
  const cout4 = Math.ceil(g.cout / 4);
  const blocks = g.kh * g.kw * cout4 * cin4;
  const wt = gpu.alloc(blocks * 16 * F32, 'conv2dWeightTranspose');
  gpu.dispatch({
    kernel: 'conv2dWeightTranspose',
    shader: 'conv2d_weight_transpose.wgsl',
    defines: { VEC_W: g.cout % 4 === 0, FLIP: flip },
    uniforms: new Uniforms(8).u32(g.cin, g.cout, cin4, cout4, blocks, g.kh * g.kw).bytes(),
    buffers: [w, wt],
    workgroups: grid1d(blocks, TRANSPOSE_GROUP),
  });
  return wt;
}

/** conv2dInputGrad with a chosen register tile (for benchmarks and the large-grid test). */
export function conv2dInputGradTiled(gpu: Gpu, dy: BufferRef, w: BufferRef, g: Conv2dGeometry, tile: InputGradVariant): BufferRef {
  const problem = inputGradTileProblem(gpu, g, tile);
  if (problem) throw new Error(`conv2dInputGrad: tile ${JSON.stringify(tile)} ${problem}`);
  if (isViaForward(tile)) {
    const flipped = transposeWeights(gpu, w, g, true);
    const dx = conv2dTiled(gpu, dy, flipped, null, inputGradAsForward(g), tile.viaForward, 'conv2dInputGrad');
    gpu.release(flipped);
    return dx;
  }
  const dx = gpu.alloc(g.n * g.h * g.w * g.cin * F32, 'conv2dInputGrad');
  // The shared variant reads W itself; the plain one a transposed, padded copy.
  const wt = tile.shareDy ? null : transposeWeights(gpu, w, g);
  const cin4 = Math.ceil(g.cin / 4);
  const cout4 = Math.ceil(g.cout / 4);
  // A narrow layer (the stem's 3 or 4 channels) does not fill a wide tile: use as few columns as it has.
  const nv = Math.min(tile.nv, cin4);
  // Shared: whole subgroups only, so every lane a shuffle reads from exists; a narrow layer splits the
  // lanes into pg groups over interleaved pixels.
  const wg = tile.shareDy ? sharedWorkgroup(gpu, tile.wg) : tile.wg;
  const pg = tile.shareDy ? pixelGroups(cin4, nv, wg) : 1;
  const colTiles = Math.ceil(cin4 / (tile.shareDy ? (nv * wg) / pg : nv));
  // Parity class (0, 0) is the largest; the others end their surplus invocations early.
  const tiles = Math.ceil(classPixels(g) / (tile.tm * pg)) * colTiles;
  const u = packConvGeometry(new Uniforms(16), g).u32(g.n, cin4, cout4, colTiles);
  // Shared: one workgroup per grid1d "invocation", all the channel tiles of a pixel tile side by side.
  const [x, y] = grid1d(tiles, tile.shareDy ? 1 : wg);
  gpu.dispatch({
    kernel: 'conv2dInputGrad',
    shader: 'conv2d_input_grad.wgsl',
    defines: {
      WG: wg, TM: tile.tm, NV: nv, VEC_DY: g.cout % 4 === 0, VEC_DX: g.cin % 4 === 0,
      SHARE_DY: !!tile.shareDy, PG: pg, VEC_W: g.cout % 4 === 0, SHARE,
    },
    uniforms: u.bytes(),
    buffers: [dy, wt ?? w, dx],
    workgroups: [x, y, g.stride * g.stride],
  });
  if (wt) gpu.release(wt);
  return dx;
}
