// Conv2d forward (implicit GEMM with register tiles, the input shared through subgroup shuffles where
// the device has subgroups of at least SHARE lanes, or workgroup-memory tiles; the variants are
// variant.ts's). Shaders: shaders/conv2d.wgsl, shaders/conv2d_workgroup_tile.wgsl. Also its candidates
// and its tuning descriptor (CONV2D_KERNEL, listed by index.ts). The bias gradient is a derived kernel
// (src/backend/kernels.ts: reduceSum over the pixels).
import type { Conv2dGeometry } from '../../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../../gpu/gpu.js';
import { SHARE, canRunSharedTiles } from '../../gpu/subgroups.js';
import { distinct } from '../autotune.js';
import { type TileRules, WORKGROUP_TILES, fitSharedTile, onDiscrete, packConvGeometry, register, sharedTiles, tileLayout, tileProblem, vec4Channels } from './tiles.js';
import { type TunedConvKernel, named } from './descriptor.js';
import { WINOGRAD_TILE, conv2dWinograd, fitWinogradTile, winogradPays, winogradProblem } from './winograd.js';
import { CONV2D_KINDS, type Conv2dVariant, type RegisterTile, type SharedTile, type WinogradTile, type WorkgroupTile, parseRunnable, unknownKind } from './variant.js';

/**
 * Fastest of the tiles measured on lavapipe over the UNet's layers (4x2, 8x1, 8x2, 4x4, 8x4, 16x4 and
 * workgroups of 32 and 64): llvmpipe loads storage buffers one lane at a time, so the tile that does the
 * most FMAs per load without spilling wins.
 */
export const CONV2D_TILE: RegisterTile = { kind: 'register', tm: 8, nv: 2, wg: 64 };
/**
 * The shared tile, measured on lavapipe over the UNet's layers at batch 2, 64x64 (tm 8, 16, 24, 32, 48,
 * 64; nv 1 and 2; workgroups of 8 and 16): tm 32, nv 1, one subgroup per workgroup runs 25-30 GFLOP/s
 * on the 3x3 layers, 3-4x the plain tile; nv 2 spills, and at tm 48 or more the driver leaves the loop
 * over pixels rolled (5x slower). Layers with few pixels (layer4) take a smaller tm: see sharedTileFor.
 */
export const SHARED_CONV2D_TILE: SharedTile = { kind: 'shared', tm: 32, nv: 1, wg: 8 };

/** What conv2d's tiles need beyond the limits, subgroups and (workgroup tiles) vec4 channels. */
const CONV2D_RULES: TileRules = {
  // Shared: each of SHARE lanes loads 1/SHARE of the tile's tm pixels of x, as vec4 (and stores y so).
  // Workgroup: the input slab is loaded as vec4 along k.
  shared: (g, t) => (t.tm % SHARE === 0 && vec4Channels(g) ? null : `tm a multiple of ${SHARE}, cin ${g.cin} and cout ${g.cout} multiples of 4`),
  workgroup: (t) => (t.bk % 4 === 0 ? null : 'bk a multiple of 4'),
};

/**
 * Whether a shared tile can run this layer here (vec4 input and output, subgroups of SHARE lanes). The
 * head (cout 1) stays on the plain tile: the shared one measured no faster there.
 */
export function canShareConv2d(gpu: Gpu, g: Conv2dGeometry): boolean {
  return vec4Channels(g) && canRunSharedTiles(gpu);
}

export function defaultConv2dTile(gpu: Gpu, g: Conv2dGeometry): RegisterTile | SharedTile | WinogradTile {
  if (winogradPays(g) && winogradProblem(gpu, g, WINOGRAD_TILE) === null) return fitWinogradTile(gpu, g, WINOGRAD_TILE);
  return canShareConv2d(gpu, g) ? sharedTileFor(gpu, g, SHARED_CONV2D_TILE) : CONV2D_TILE;
}

/** The shaders conv2d's variants run: their text keys its tuning entries. */
export const CONV2D_SHADERS = ['conv2d.wgsl', 'conv2d_workgroup_tile.wgsl', 'winograd_transform.wgsl', 'winograd_gemm.wgsl'];

/** `t` (from a tuning file: anything) as a conv2d variant that can run this layer here, or null. */
export function parseConv2dVariant(gpu: Gpu, g: Conv2dGeometry, t: unknown): Conv2dVariant | null {
  return parseRunnable(t, CONV2D_KINDS, (v) => conv2dTileProblem(gpu, g, v));
}

/**
 * A shared tile fitted to a layer and device (fitSharedTile): a workgroup's tile keeps about tm pixels
 * when its lanes split into pixel groups (on the narrow decoder4 layers tm 16 with 2 groups measured
 * faster than 32).
 */
export function sharedTileFor(gpu: Gpu, g: Conv2dGeometry, t: SharedTile): SharedTile {
  return fitSharedTile(gpu, t, Math.ceil(g.cout / 4), g.n * g.oh * g.ow);
}

/** Why a tile cannot run this layer on this device, or null. */
export function conv2dTileProblem(gpu: Gpu, g: Conv2dGeometry, t: Conv2dVariant): string | null {
  return t.kind === 'winograd' ? winogradProblem(gpu, g, t) : tileProblem(gpu, g, t, CONV2D_RULES);
}

/**
 * conv2d with a chosen tile (for the tuner, benchmarks and tile tests); `kernel` names the dispatch in
 * errors and profiles (the input gradient runs stride-1 layers through here too).
 */
export function conv2dTiled(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, tile: Conv2dVariant, kernel = 'conv2d'): BufferRef {
  if (g.hasBias !== (bias !== null)) throw new Error(`conv2d: geometry says hasBias=${g.hasBias} but bias is ${bias ? 'given' : 'null'}`);
  const problem = conv2dTileProblem(gpu, g, tile);
  if (problem) throw new Error(`${kernel}: tile ${JSON.stringify(tile)} ${problem}`);
  switch (tile.kind) {
    case 'register':
    case 'shared':
      return conv2dRegisterTiled(gpu, x, w, bias, g, tile, kernel);
    case 'workgroup':
      return conv2dWorkgroupTiled(gpu, x, w, bias, g, tile, kernel);
    case 'winograd':
      return conv2dWinograd(gpu, x, w, bias, g, tile, kernel);
    default:
      return unknownKind(tile);
  }
}

function conv2dRegisterTiled(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, t: RegisterTile | SharedTile, kernel: string): BufferRef {
  const pixels = g.n * g.oh * g.ow;
  const y = gpu.alloc(pixels * g.cout * 4, 'conv2d');
  const cout4 = Math.ceil(g.cout / 4);
  const { shared, wg, nv, pg, colTiles, pixelTiles } = tileLayout(gpu, t, cout4, pixels);
  const u = packConvGeometry(new Uniforms(16), g)
    .u32(pixels, cout4, colTiles, pixelTiles, g.hasBias ? 1 : 0);
  gpu.dispatch({
    kernel,
    shader: 'conv2d.wgsl',
    defines: { WG: wg, TM: t.tm, NV: nv, VEC_IN: g.cin % 4 === 0, VEC_OUT: g.cout % 4 === 0, SHARE_X: shared, PG: pg, SHARE },
    uniforms: u.bytes(),
    // Without a bias the weights stand in at its binding (read-only bindings may alias); the shader
    // discards what it reads there.
    buffers: [x, w, bias ?? w, y],
    // Shared: one workgroup per grid1d "invocation", all the channel tiles of a pixel tile side by side.
    workgroups: shared ? grid1d(pixelTiles * colTiles, 1) : [...grid1d(pixelTiles, wg), colTiles],
  });
  return y;
}

function conv2dWorkgroupTiled(gpu: Gpu, x: BufferRef, w: BufferRef, bias: BufferRef | null, g: Conv2dGeometry, t: WorkgroupTile, kernel: string): BufferRef {
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
    // Without a bias the weights stand in at its binding (discarded, as in conv2dRegisterTiled).
    buffers: [x, w, bias ?? w, y],
    workgroups: grid1d(pixelTiles * colTiles, 1),
  });
  return y;
}

/** What the autotuner measures for conv2d on one layer (see tiles.ts); the default first. */
export function conv2dCandidates(gpu: Gpu, g: Conv2dGeometry): Conv2dVariant[] {
  const shared = canShareConv2d(gpu, g) ? sharedTiles([16, 32], (t) => sharedTileFor(gpu, g, t)) : [];
  const plain = [CONV2D_TILE, register(4, 4, 64), register(8, 4, 64), register(4, 2, 128)];
  const winograd = winogradCandidates(gpu, g);
  return distinct<Conv2dVariant>([defaultConv2dTile(gpu, g), ...winograd, ...shared, ...plain, ...onDiscrete(gpu, g, WORKGROUP_TILES)]);
}

/** Winograd tiles (tm 16 and 32, nv 1 and 2, one subgroup or 64 lanes) fitted to the layer, where they can run it. */
export function winogradCandidates(gpu: Gpu, g: Conv2dGeometry): WinogradTile[] {
  if (winogradProblem(gpu, g, WINOGRAD_TILE) !== null) return [];
  const tiles = sharedTiles([16, 32]).map((t): WinogradTile => fitWinogradTile(gpu, g, { ...t, kind: 'winograd' }));
  return tiles.filter((t) => winogradProblem(gpu, g, t) === null);
}

/** conv2d for the tuner (index.ts lists it): its candidates, the heuristic, the one validator. */
export const CONV2D_KERNEL: TunedConvKernel<Conv2dVariant> = {
  ...named('conv2d', CONV2D_SHADERS),
  defaultVariant: defaultConv2dTile,
  candidates: conv2dCandidates,
  problem: conv2dTileProblem,
  parse: parseConv2dVariant,
  record: (gpu, b, g, v) => conv2dTiled(gpu, b.x, b.w, b.bias, g, v),
};
