// The input gradient of conv2d: a transposed convolution, decomposed by stride parity class, on
// register tiles (the weights transposed first), or for stride-1 layers a forward convolution with the
// taps flipped. Shaders: shaders/conv2d_weight_transpose.wgsl, shaders/conv2d_input_grad.wgsl, and
// conv2d's through conv2dTiled (forward.ts). Also its candidates and its tuning descriptor
// (INPUT_GRAD_KERNEL, listed by index.ts).
import type { Conv2dGeometry } from '../../core/geometry.js';
import { conv2dGeometry } from '../../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../../gpu/gpu.js';
import { SHARE, canRunSharedTiles } from '../../gpu/subgroups.js';
import { conv2dTileProblem, conv2dTiled, defaultConv2dTile, winogradCandidates } from './forward.js';
import { distinct } from '../autotune.js';
import { type TileRules, WORKGROUP_TILES, fitSharedTile, onDiscrete, packConvGeometry, register, sharedTiles, tileLayout, tileProblem, vec4Channels } from './tiles.js';
import { type TunedConvKernel, named } from './descriptor.js';
import { INPUT_GRAD_KINDS, type Conv2dVariant, type InputGradVariant, type RegisterTile, type SharedTile, parseRunnable, unknownKind } from './variant.js';

const F32 = 4;
/** Workgroup size of shaders/conv2d_weight_transpose.wgsl. */
const TRANSPOSE_GROUP = 64;

/** The forward convolution whose output is dx (see ViaForward). */
export function inputGradAsForward(g: Conv2dGeometry): Conv2dGeometry {
  return conv2dGeometry([g.n, g.oh, g.ow, g.cout], [g.kh, g.kw, g.cout, g.cin], 1, g.kh - 1 - g.pad, false);
}

/** Fastest measured on lavapipe (3x3, 64 -> 64, batch 2, 64x64). */
export const INPUT_GRAD_TILE: RegisterTile = { kind: 'register', tm: 4, nv: 2, wg: 64 };
/**
 * The shared tile, measured on lavapipe over the UNet's layers at batch 2, 64x64 (tm 8, 16, 32; nv 1
 * and 2; workgroups of 8 and 16): tm 16, nv 1, one subgroup per workgroup runs 12-24 GFLOP/s on the
 * 3x3 layers, 2-4x the plain tile (which also pays for the weight transpose); tm 32 runs 4x slower.
 */
export const SHARED_INPUT_GRAD_TILE: SharedTile = { kind: 'shared', tm: 16, nv: 1, wg: 8 };

/** What the input gradient's tiles need beyond the limits and subgroups: each of SHARE lanes loads 1/SHARE of a tile's dy. */
const INPUT_GRAD_RULES: TileRules = {
  shared: (_g, t) => (t.tm % SHARE === 0 ? null : `tm a multiple of ${SHARE}`),
};

/** `t` (from a tuning file: anything) as an input-gradient variant that can run this layer here, or null. */
export function parseInputGradVariant(gpu: Gpu, g: Conv2dGeometry, t: unknown): InputGradVariant | null {
  return parseRunnable(t, INPUT_GRAD_KINDS, (v) => inputGradTileProblem(gpu, g, v));
}

/**
 * The heuristic: the forward route where the forward convolution it runs takes Winograd (winogradPays:
 * wide stride-1 layers with many tiles), else the shared tile where the device has subgroups. (The
 * forward route on the shared forward tile ran some wide layers 10-20% faster in isolation on lavapipe:
 * 64 -> 64 at 2x32x32 in 5.1 against 5.8 ms, 128 -> 128 at 2x16x16 in 4.4 against 5.6; but 32 -> 32
 * slower, and as a default for the wide layers it left the step unchanged within the noise, partly for
 * the weights' transposed copies, 41 ms a step when every wide layer took it. So that one is the tuner's
 * to choose, layer by layer.)
 */
export function defaultInputGradTile(gpu: Gpu, g: Conv2dGeometry): InputGradVariant {
  if (viaForwardProblem(g) === null) {
    const forward = defaultConv2dTile(gpu, inputGradAsForward(g));
    // Where the forward convolution takes Winograd (winogradPays), so does the input gradient: measured
    // 1.2-1.4x faster than the shared tile on lavapipe (bench/RESULTS.md, 2026-12-07).
    if (forward.kind === 'winograd') return { kind: 'viaForward', forward };
  }
  return canRunSharedTiles(gpu) ? sharedInputGradTileFor(gpu, g, SHARED_INPUT_GRAD_TILE) : INPUT_GRAD_TILE;
}

/** Why this layer's input gradient cannot run as a forward convolution, or null. */
export function viaForwardProblem(g: Conv2dGeometry): string | null {
  if (g.stride !== 1 || g.kh !== g.kw || g.pad > g.kh - 1 || !vec4Channels(g)) {
    return `needs stride 1, a square kernel, pad < k and cin, cout multiples of 4 (got stride ${g.stride}, ${g.kh}x${g.kw}, pad ${g.pad}, ${g.cin} -> ${g.cout})`;
  }
  return null;
}

/** The shaders the input gradient's variants run: their text keys its tuning entries. */
export const INPUT_GRAD_SHADERS = ['conv2d_input_grad.wgsl', 'conv2d_weight_transpose.wgsl', 'conv2d.wgsl', 'conv2d_workgroup_tile.wgsl', 'winograd_transform.wgsl', 'winograd_gemm.wgsl'];

/** Why a variant cannot run this layer on this device, or null. */
export function inputGradTileProblem(gpu: Gpu, g: Conv2dGeometry, v: InputGradVariant): string | null {
  switch (v.kind) {
    case 'register':
    case 'shared':
      return tileProblem(gpu, g, v, INPUT_GRAD_RULES);
    case 'viaForward':
      return viaForwardProblem(g) ?? conv2dTileProblem(gpu, inputGradAsForward(g), v.forward);
    default:
      return unknownKind(v);
  }
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

/** A shared tile fitted to a layer and device (see SHARED_INPUT_GRAD_MAX_TILE_PIXELS and fitSharedTile). */
export function sharedInputGradTileFor(gpu: Gpu, g: Conv2dGeometry, t: SharedTile): SharedTile {
  return fitSharedTile(gpu, t, Math.ceil(g.cin / 4), classPixels(g), SHARED_INPUT_GRAD_MAX_TILE_PIXELS);
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

/** conv2dInputGrad with a chosen variant (for the tuner, benchmarks and the large-grid test). */
export function conv2dInputGradTiled(gpu: Gpu, dy: BufferRef, w: BufferRef, g: Conv2dGeometry, tile: InputGradVariant): BufferRef {
  const problem = inputGradTileProblem(gpu, g, tile);
  if (problem) throw new Error(`conv2dInputGrad: tile ${JSON.stringify(tile)} ${problem}`);
  switch (tile.kind) {
    case 'register':
    case 'shared':
      return inputGradRegisterTiled(gpu, dy, w, g, tile);
    case 'viaForward': {
      const flipped = transposeWeights(gpu, w, g, true);
      const dx = conv2dTiled(gpu, dy, flipped, null, inputGradAsForward(g), tile.forward, 'conv2dInputGrad');
      gpu.release(flipped);
      return dx;
    }
    default:
      return unknownKind(tile);
  }
}

function inputGradRegisterTiled(gpu: Gpu, dy: BufferRef, w: BufferRef, g: Conv2dGeometry, t: RegisterTile | SharedTile): BufferRef {
  const dx = gpu.alloc(g.n * g.h * g.w * g.cin * F32, 'conv2dInputGrad');
  const cin4 = Math.ceil(g.cin / 4);
  const cout4 = Math.ceil(g.cout / 4);
  // Parity class (0, 0) is the largest; the others end their surplus invocations early.
  const { shared, wg, nv, pg, colTiles, pixelTiles } = tileLayout(gpu, t, cin4, classPixels(g));
  // The shared variant reads W itself; the plain one a transposed, padded copy.
  const wt = shared ? null : transposeWeights(gpu, w, g);
  const u = packConvGeometry(new Uniforms(16), g).u32(g.n, cin4, cout4, colTiles);
  // Shared: one workgroup per grid1d "invocation", all the channel tiles of a pixel tile side by side.
  const [x, y] = grid1d(pixelTiles * colTiles, shared ? 1 : wg);
  gpu.dispatch({
    kernel: 'conv2dInputGrad',
    shader: 'conv2d_input_grad.wgsl',
    defines: {
      WG: wg, TM: t.tm, NV: nv, VEC_DY: g.cout % 4 === 0, VEC_DX: g.cin % 4 === 0,
      SHARE_DY: shared, PG: pg, VEC_W: g.cout % 4 === 0, SHARE,
    },
    uniforms: u.bytes(),
    buffers: [dy, wt ?? w, dx],
    workgroups: [x, y, g.stride * g.stride],
  });
  if (wt) gpu.release(wt);
  return dx;
}

/**
 * Besides the input-gradient tiles: stride-1 layers as a forward convolution, on the forward's default
 * tile, its Winograd tiles and (discrete GPUs) its workgroup tiles.
 */
export function inputGradCandidates(gpu: Gpu, g: Conv2dGeometry): InputGradVariant[] {
  const shared = canRunSharedTiles(gpu) ? sharedTiles([8, 16], (t) => sharedInputGradTileFor(gpu, g, t)) : [];
  const plain = [INPUT_GRAD_TILE, register(8, 2, 64), register(4, 4, 64), register(8, 1, 64)];
  const asForward = inputGradAsForward(g);
  const forward: Conv2dVariant[] =
    viaForwardProblem(g) !== null ? [] : [defaultConv2dTile(gpu, asForward), ...winogradCandidates(gpu, asForward), ...onDiscrete(gpu, asForward, WORKGROUP_TILES)];
  const viaForward = forward.map((f): InputGradVariant => ({ kind: 'viaForward', forward: f }));
  return distinct<InputGradVariant>([defaultInputGradTile(gpu, g), ...shared, ...plain, ...viaForward]);
}

/** The input gradient for the tuner (index.ts lists it). */
export const INPUT_GRAD_KERNEL: TunedConvKernel<InputGradVariant> = {
  ...named('conv2dInputGrad', INPUT_GRAD_SHADERS),
  defaultVariant: defaultInputGradTile,
  candidates: inputGradCandidates,
  problem: inputGradTileProblem,
  parse: parseInputGradVariant,
  record: (gpu, b, g, v) => conv2dInputGradTiled(gpu, b.dy, b.w, g, v),
};
