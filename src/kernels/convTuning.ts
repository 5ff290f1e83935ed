// The variants the autotuner measures for the three conv kernels on one layer (the tuning itself is
// registry.ts's tuneConvLayer). The heuristic default comes first (the cross-check's reference); the others
// span what measured best on lavapipe (small register tiles, subgroup-shared loads in one subgroup) and
// what a discrete GPU may prefer (wider tiles, several subgroups per workgroup, more weight-gradient
// splits). Shared variants are listed only where the device has subgroups of at least SHARE lanes.
import type { Conv2dGeometry } from '../core/geometry.js';
import type { Gpu } from '../gpu/gpu.js';
import { canShareA } from '../gpu/subgroups.js';
import { distinct } from './autotune.js';
import {
  type Conv2dTile,
  type Conv2dVariant,
  type Conv2dWorkgroupTile,
  CONV2D_TILE,
  canShareConv2d,
  defaultConv2dTile,
  sharedTileFor,
} from './conv2d.js';
import { type InputGradTile, type InputGradVariant, INPUT_GRAD_TILE, defaultInputGradTile, inputGradAsForward, viaForwardProblem, sharedInputGradTileFor } from './conv2dInputGrad.js';
import { type WeightGradTile, type WeightGradVariant, type WeightGradWorkgroupTile, WEIGHT_GRAD_TILE, defaultTargetInvocations, defaultWeightGradTile, weightGradSplits } from './conv2dWeightGrad.js';

/** Lanes per workgroup of the shared variants: one subgroup (lavapipe's best), or several. */
const SHARED_WORKGROUPS = [8, 64];

function product<A, B>(as: readonly A[], bs: readonly B[]): [A, B][] {
  return as.flatMap((a) => bs.map((b): [A, B] => [a, b]));
}

/**
 * Workgroup-memory tiles for discrete GPUs: 64 x 64 and 128 x 64 (pixels x channels) tiles of 256
 * invocations, 64 x 128 and 128 x 128 for the wide layers, staging 16 or 32 values of k (at most 16 KiB
 * of workgroup memory, WebGPU's guaranteed minimum).
 */
export const WORKGROUP_TILES: Conv2dWorkgroupTile[] = [
  { workgroup: true, wx: 16, wy: 16, tm: 4, nv: 1, bk: 16 },
  { workgroup: true, wx: 16, wy: 16, tm: 8, nv: 1, bk: 16 },
  { workgroup: true, wx: 16, wy: 16, tm: 4, nv: 2, bk: 16 },
  { workgroup: true, wx: 16, wy: 16, tm: 8, nv: 2, bk: 16 },
  { workgroup: true, wx: 16, wy: 8, tm: 8, nv: 1, bk: 32 },
];

export function conv2dCandidates(gpu: Gpu, g: Conv2dGeometry): Conv2dVariant[] {
  const plain: Conv2dTile[] = [CONV2D_TILE, { tm: 4, nv: 4, wg: 64 }, { tm: 8, nv: 4, wg: 64 }, { tm: 4, nv: 2, wg: 128 }];
  const shared = canShareConv2d(gpu, g)
    ? product(product([16, 32], [1, 2]), SHARED_WORKGROUPS).map(([[tm, nv], wg]) => sharedTileFor(gpu, g, { tm, nv, wg, shareX: true }))
    : [];
  const vec4 = g.cin % 4 === 0 && g.cout % 4 === 0;
  const workgroup = vec4 && !gpu.isSoftware ? WORKGROUP_TILES : [];
  return distinct<Conv2dVariant>([defaultConv2dTile(gpu, g), ...shared, ...plain, ...workgroup]);
}

/**
 * Besides the input-gradient tiles: stride-1 layers as a forward convolution, on the forward's default
 * tile and (discrete GPUs) its workgroup tiles.
 */
export function inputGradCandidates(gpu: Gpu, g: Conv2dGeometry): InputGradVariant[] {
  const plain: InputGradTile[] = [INPUT_GRAD_TILE, { tm: 8, nv: 2, wg: 64 }, { tm: 4, nv: 4, wg: 64 }, { tm: 8, nv: 1, wg: 64 }];
  const shared = canShareA(gpu)
    ? product(product([8, 16], [1, 2]), SHARED_WORKGROUPS).map(([[tm, nv], wg]) => sharedInputGradTileFor(gpu, g, { tm, nv, wg, shareDy: true }))
    : [];
  const forwardTiles = viaForwardProblem(g) !== null ? [] : [defaultConv2dTile(gpu, inputGradAsForward(g)), ...(gpu.isSoftware ? [] : WORKGROUP_TILES)];
  const viaForward = forwardTiles.map((viaForward): InputGradVariant => ({ viaForward }));
  return distinct<InputGradVariant>([defaultInputGradTile(gpu, g), ...shared, ...plain, ...viaForward]);
}

/**
 * Workgroup-memory weight-gradient tiles for discrete GPUs: 64 x 64 and 128 x 64 (weight rows x output
 * channels) of 256 invocations, 64 x 128 for the wide layers, 16 or 32 pixels a stage (at most 16 KiB).
 */
export const WEIGHT_GRAD_WORKGROUP_TILES: WeightGradWorkgroupTile[] = [
  { workgroup: true, wx: 16, wy: 16, tk: 4, nv: 1, bp: 16 },
  { workgroup: true, wx: 16, wy: 16, tk: 8, nv: 1, bp: 16 },
  { workgroup: true, wx: 16, wy: 16, tk: 4, nv: 2, bp: 16 },
  { workgroup: true, wx: 16, wy: 8, tk: 8, nv: 1, bp: 32 },
];

/** Tiles at the device's default split target; splitCandidates varies the target of the winner. */
export function weightGradCandidates(gpu: Gpu, g: Conv2dGeometry): WeightGradVariant[] {
  const plain: WeightGradTile[] = [WEIGHT_GRAD_TILE, { tv: 1, nv: 4, wg: 64 }, { tv: 4, nv: 1, wg: 64 }, { tv: 2, nv: 4, wg: 64 }];
  const shared = canShareA(gpu)
    ? product(product([4, 8], [1, 2]), SHARED_WORKGROUPS).map(([[tv, nv], wg]): WeightGradTile => ({ tv, nv, wg, shareX: true }))
    : [];
  const vec4 = g.cin % 4 === 0 && g.cout % 4 === 0;
  const workgroup = vec4 && !gpu.isSoftware ? WEIGHT_GRAD_WORKGROUP_TILES : [];
  return distinct<WeightGradVariant>([defaultWeightGradTile(gpu, g), ...shared, ...plain, ...workgroup]);
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
