// What the conv kernels' tiles share: whether a tile can run (the device's workgroup limits, subgroups,
// vec4 channels, and each kernel's own rule), the workgroup memory a workgroup tile takes, how a shared
// tile is fitted to a layer, how a register or shared tile covers its output, and the pieces every
// kernel's candidate list is built of. The kernels (forward.ts, input-grad.ts, weight-grad.ts) add only
// what is theirs.
import type { Conv2dGeometry } from '../../core/geometry.js';
import type { Gpu, Uniforms } from '../../gpu/gpu.js';
import { SHARE, canRunSharedTiles, sharedWorkgroup } from '../../gpu/subgroups.js';
import { type RegisterTile, type SharedTile, type WorkgroupTile, unknownKind } from './variant.js';

/** The layer's fields that open every conv kernel's Params (shaders/conv_geometry_fields.wgsl), in order. */
export function packConvGeometry(u: Uniforms, g: Conv2dGeometry): Uniforms {
  return u.u32(g.h, g.w, g.cin, g.cout, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow);
}

/** Whether the layer's input and output channels are multiples of 4 (what vec4 loads and stores need). */
export function vec4Channels(g: Conv2dGeometry): boolean {
  return g.cin % 4 === 0 && g.cout % 4 === 0;
}

/** Whether a tile's lanes share their rows through subgroup shuffles (the shared kind). */
export function sharesLanes(t: RegisterTile | SharedTile): boolean {
  switch (t.kind) {
    case 'register':
      return false;
    case 'shared':
      return true;
    default:
      return unknownKind(t);
  }
}

/** Workgroup memory a workgroup tile takes: its row slab (bk x wy*tm floats) and column slab (bk x wx*nv vec4). */
export function workgroupTileBytes(t: WorkgroupTile): number {
  return t.bk * t.wy * t.tm * 4 + t.bk * t.wx * t.nv * 16;
}

/** Why a wx x wy workgroup using `bytes` of workgroup memory cannot run on this device, or null. */
export function workgroupLimitsProblem(gpu: Gpu, wx: number, wy: number, bytes: number): string | null {
  const l = gpu.limits;
  if (wx * wy > l.maxComputeInvocationsPerWorkgroup || wx > l.maxComputeWorkgroupSizeX || wy > l.maxComputeWorkgroupSizeY) {
    return `is larger than this device's workgroups (${l.maxComputeWorkgroupSizeX} x ${l.maxComputeWorkgroupSizeY}, ${l.maxComputeInvocationsPerWorkgroup} invocations)`;
  }
  if (bytes > l.maxComputeWorkgroupStorageSize) return `needs ${bytes} bytes of workgroup memory, more than this device's ${l.maxComputeWorkgroupStorageSize}`;
  return null;
}

/** What one kernel asks of its tiles beyond the device's limits, subgroups (shared) and vec4 channels (workgroup). */
export interface TileRules {
  /** What a shared tile needs of its fields and the layer, phrased after "needs", when it lacks it; else null. */
  shared(g: Conv2dGeometry, t: SharedTile): string | null;
  /** The same for a workgroup tile; absent in a kernel without workgroup tiles. */
  workgroup?(t: WorkgroupTile): string | null;
}

/** Why a tile cannot run this layer on this device under a kernel's `rules`, or null. */
export function tileProblem(gpu: Gpu, g: Conv2dGeometry, t: RegisterTile | SharedTile | WorkgroupTile, rules: TileRules): string | null {
  switch (t.kind) {
    case 'register':
      return workgroupLimitsProblem(gpu, t.wg, 1, 0);
    case 'shared': {
      const needs = rules.shared(g, t);
      return (
        // Checked at the size it is dispatched at: whole subgroups (sharedWorkgroup).
        workgroupLimitsProblem(gpu, sharedWorkgroup(gpu, t.wg), 1, 0) ??
        (needs !== null ? `needs ${needs}` : canRunSharedTiles(gpu) ? null : `needs subgroups of at least ${SHARE} lanes`)
      );
    }
    case 'workgroup': {
      if (!vec4Channels(g)) return `needs cin ${g.cin} and cout ${g.cout} multiples of 4`;
      const needs = rules.workgroup?.(t) ?? null;
      if (needs !== null) return `needs ${needs}`;
      return workgroupLimitsProblem(gpu, t.wx, t.wy, workgroupTileBytes(t));
    }
    default:
      return unknownKind(t);
  }
}

/**
 * The tm of a shared tile with pg pixel groups over `pixels` pixels: tm halves while that leaves the
 * number of pixel tiles unchanged and tm a multiple of SHARE, as the kernels' rules ask (layer4 at 64x64
 * has 8 pixels: tm 8 runs 2x faster than 32). A tm of 24 stays 24.
 */
export function fitSharedTm(tm: number, pg: number, pixels: number): number {
  let fit = tm;
  while (fit % (2 * SHARE) === 0 && fit * pg >= 2 * pixels) fit /= 2;
  return fit;
}

/**
 * Pixel groups of a shared tile over `columns` vec4 columns: the most (a power of 2, at most SHARE)
 * whose wg / pg lanes, nv columns each, still cover every column (so a narrow layer does not idle most
 * lanes).
 */
export function pixelGroups(columns: number, nv: number, wg: number): number {
  let pg = 1;
  while (pg < SHARE && (wg / (pg * 2)) * nv >= columns) pg *= 2;
  return pg;
}

/**
 * A shared tile fitted to a layer of `columns` vec4 output columns and `pixels` output rows on this
 * device: whole subgroups; when its lanes split into pg pixel groups, a workgroup's tile keeps at most
 * `tilePixels` pixels (each group at least SHARE, at most tm); then fitSharedTm.
 */
export function fitSharedTile(gpu: Gpu, t: SharedTile, columns: number, pixels: number, tilePixels = t.tm): SharedTile {
  const wg = sharedWorkgroup(gpu, t.wg);
  const pg = pixelGroups(columns, t.nv, wg);
  // A multiple of SHARE (the kernels' rule) from a multiple of SHARE.
  const tm = Math.min(t.tm, Math.max(SHARE, Math.floor(tilePixels / pg / SHARE) * SHARE));
  return { ...t, wg, tm: fitSharedTm(tm, pg, pixels) };
}

/** How a register or shared tile of conv2d or the input gradient covers `pixels` rows x `columns` vec4 columns. */
export interface TileLayout {
  shared: boolean;
  /** Invocations per workgroup (a shared tile's in whole subgroups). */
  wg: number;
  /** Vec4 columns per invocation: a narrow layer does not fill a wide tile, so as few as it has. */
  nv: number;
  /** Pixel groups the lanes of a shared workgroup split into (1 for a register tile). */
  pg: number;
  colTiles: number;
  pixelTiles: number;
}

export function tileLayout(gpu: Gpu, t: RegisterTile | SharedTile, columns: number, pixels: number): TileLayout {
  const shared = sharesLanes(t);
  const nv = Math.min(t.nv, columns);
  // Shared: whole subgroups only, so every lane a shuffle reads from exists; a narrow layer (fewer
  // columns than lanes) splits the lanes into pg groups over interleaved pixels.
  const wg = shared ? sharedWorkgroup(gpu, t.wg) : t.wg;
  const pg = shared ? pixelGroups(columns, nv, wg) : 1;
  const colTiles = Math.ceil(columns / (shared ? (nv * wg) / pg : nv));
  const pixelTiles = Math.ceil(pixels / (t.tm * pg));
  return { shared, wg, nv, pg, colTiles, pixelTiles };
}

// ---- candidates: what the autotuner measures -------------------------------------------------------
// The heuristic default comes first in each kernel's list (the cross-check's reference); the others
// span what measured best on lavapipe (small register tiles, subgroup-shared loads in one subgroup) and
// what a discrete GPU may prefer (wider tiles, several subgroups per workgroup, more weight-gradient
// splits). Shared variants are listed only where the device has subgroups of at least SHARE lanes.

/** Lanes per workgroup of the shared variants: one subgroup (lavapipe's best), or several. */
const SHARED_WORKGROUPS = [8, 64];
/** Vec4 columns per lane of the shared variants. */
const SHARED_NV = [1, 2];

function product<A, B>(as: readonly A[], bs: readonly B[]): [A, B][] {
  return as.flatMap((a) => bs.map((b): [A, B] => [a, b]));
}

export const register = (tm: number, nv: number, wg: number): RegisterTile => ({ kind: 'register', tm, nv, wg });
export const workgroup = (wx: number, wy: number, tm: number, nv: number, bk: number): WorkgroupTile => ({ kind: 'workgroup', wx, wy, tm, nv, bk });

/** Shared tiles of each of `tms` x SHARED_NV x SHARED_WORKGROUPS, each fitted to the layer by `fit`. */
export function sharedTiles(tms: readonly number[], fit: (t: SharedTile) => SharedTile = (t) => t): SharedTile[] {
  return product(product(tms, SHARED_NV), SHARED_WORKGROUPS).map(([[tm, nv], wg]) => fit({ kind: 'shared', tm, nv, wg }));
}

/** Workgroup tiles where they are candidates: vec4 channels, and not a CPU driver. */
export function onDiscrete<T>(gpu: Gpu, g: Conv2dGeometry, tiles: readonly T[]): T[] {
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
