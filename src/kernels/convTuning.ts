// The variants the autotuner measures for the three conv kernels on one layer (the tuning itself is
// registry.ts's tuneConvLayer). The heuristic default comes first (the cross-check's reference); the others
// span what measured best on lavapipe (small register tiles, subgroup-shared loads in one subgroup) and
// what a discrete GPU may prefer (wider tiles, several subgroups per workgroup, more weight-gradient
// splits). Shared variants are listed only where the device has subgroups of at least SHARE lanes.
import type { Conv2dGeometry } from '../core/geometry.js';
import type { Gpu } from '../gpu/gpu.js';
import { canRunSharedTiles } from '../gpu/subgroups.js';
import { distinct } from './autotune.js';
import { CONV2D_TILE, canShareConv2d, defaultConv2dTile, sharedTileFor } from './conv2d.js';
import { INPUT_GRAD_TILE, defaultInputGradTile, inputGradAsForward, sharedInputGradTileFor, viaForwardProblem } from './conv2dInputGrad.js';
import { WEIGHT_GRAD_TILE, defaultTargetInvocations, defaultWeightGradTile, weightGradSplits } from './conv2dWeightGrad.js';
import { vec4Channels } from './convTiles.js';
import type { Conv2dVariant, InputGradVariant, RegisterTile, SharedTile, WeightGradVariant, WorkgroupTile } from './convVariant.js';

/** Lanes per workgroup of the shared variants: one subgroup (lavapipe's best), or several. */
const SHARED_WORKGROUPS = [8, 64];
/** Vec4 columns per lane of the shared variants. */
const SHARED_NV = [1, 2];

function product<A, B>(as: readonly A[], bs: readonly B[]): [A, B][] {
  return as.flatMap((a) => bs.map((b): [A, B] => [a, b]));
}

const register = (tm: number, nv: number, wg: number): RegisterTile => ({ kind: 'register', tm, nv, wg });
const workgroup = (wx: number, wy: number, tm: number, nv: number, bk: number): WorkgroupTile => ({ kind: 'workgroup', wx, wy, tm, nv, bk });

/** Shared tiles of each of `tms` x SHARED_NV x SHARED_WORKGROUPS, each fitted to the layer by `fit`. */
function sharedTiles(tms: readonly number[], fit: (t: SharedTile) => SharedTile = (t) => t): SharedTile[] {
  return product(product(tms, SHARED_NV), SHARED_WORKGROUPS).map(([[tm, nv], wg]) => fit({ kind: 'shared', tm, nv, wg }));
}

/** Workgroup tiles where they are candidates: vec4 channels, and not a CPU driver. */
function onDiscrete<T>(gpu: Gpu, g: Conv2dGeometry, tiles: readonly T[]): T[] {
  return vec4Channels(g) && !gpu.isSoftware ? [...tiles] : [];
}

/**
 * Workgroup-memory tiles for discrete GPUs: 64 x 64 and 128 x 64 tiles (rows x channels: pixels for
 * conv2d, weight rows for the weight gradient) of 256 invocations, 64 x 128 and 128 x 128 for the wide
 * layers, staging 16 or 32 values of the reduction (k; the weight gradient's pixels) at a time, in at
 * most 16 KiB of workgroup memory (WebGPU's guaranteed minimum).
 */
export const WORKGROUP_TILES: readonly WorkgroupTile[] = [
  workgroup(16, 16, 4, 1, 16),
  workgroup(16, 16, 8, 1, 16),
  workgroup(16, 16, 4, 2, 16),
  workgroup(16, 16, 8, 2, 16),
  workgroup(16, 8, 8, 1, 32),
];
/** The weight gradient's (weight rows x output channels): the same but the 128 x 128 tile. */
export const WEIGHT_GRAD_WORKGROUP_TILES: readonly WorkgroupTile[] = WORKGROUP_TILES.filter((t) => t.wy * t.tm < 128 || t.wx * t.nv * 4 < 128);

export function conv2dCandidates(gpu: Gpu, g: Conv2dGeometry): Conv2dVariant[] {
  const shared = canShareConv2d(gpu, g) ? sharedTiles([16, 32], (t) => sharedTileFor(gpu, g, t)) : [];
  const plain = [CONV2D_TILE, register(4, 4, 64), register(8, 4, 64), register(4, 2, 128)];
  return distinct<Conv2dVariant>([defaultConv2dTile(gpu, g), ...shared, ...plain, ...onDiscrete(gpu, g, WORKGROUP_TILES)]);
}

/**
 * Besides the input-gradient tiles: stride-1 layers as a forward convolution, on the forward's default
 * tile and (discrete GPUs) its workgroup tiles.
 */
export function inputGradCandidates(gpu: Gpu, g: Conv2dGeometry): InputGradVariant[] {
  const shared = canRunSharedTiles(gpu) ? sharedTiles([8, 16], (t) => sharedInputGradTileFor(gpu, g, t)) : [];
  const plain = [INPUT_GRAD_TILE, register(8, 2, 64), register(4, 4, 64), register(8, 1, 64)];
  const asForward = inputGradAsForward(g);
  const forward: Conv2dVariant[] = viaForwardProblem(g) !== null ? [] : [defaultConv2dTile(gpu, asForward), ...onDiscrete(gpu, asForward, WORKGROUP_TILES)];
  const viaForward = forward.map((f): InputGradVariant => ({ kind: 'viaForward', forward: f }));
  return distinct<InputGradVariant>([defaultInputGradTile(gpu, g), ...shared, ...plain, ...viaForward]);
}

/** Tiles at the device's default split target; splitCandidates varies the target of the winner. */
export function weightGradCandidates(gpu: Gpu, g: Conv2dGeometry): WeightGradVariant[] {
  const shared = canRunSharedTiles(gpu) ? sharedTiles([4, 8]) : [];
  const plain = [WEIGHT_GRAD_TILE, register(1, 4, 64), register(4, 1, 64), register(2, 4, 64)];
  return distinct<WeightGradVariant>([defaultWeightGradTile(gpu, g), ...shared, ...plain, ...onDiscrete(gpu, g, WEIGHT_GRAD_WORKGROUP_TILES)]);
}

/** Split targets around the device's default (4x fewer and 4x more invocations), where they change the split. */
export function splitCandidates(gpu: Gpu, g: Conv2dGeometry, tile: WeightGradVariant): WeightGradVariant[] {
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
