// Subgroup sharing, a device capability the matmul and conv kernels use: SHARE lanes of a subgroup each
// load 1/SHARE of an operand tile all of them need and pass it round with subgroupShuffle (on lavapipe a
// storage load costs a loop over the SIMD lanes, a shuffle one vector permute).
import type { Gpu } from './gpu.js';

/** Lanes that share one operand tile; the shaders get it as their ${SHARE} define (none writes its own). */
export const SHARE = 8;

/**
 * Whether this device can run a shared tile (matmul's shared A, the conv kernels' shared x or dy):
 * subgroups of at least SHARE lanes.
 */
export function canRunSharedTiles(gpu: Gpu): boolean {
  const min = gpu.adapter.info.subgroupMinSize ?? 0;
  return gpu.device.features.has('subgroups' as GPUFeatureName) && min >= SHARE;
}

/**
 * The workgroup size a shared tile of `wg` lanes runs with: whole subgroups only, so every lane a
 * shuffle reads from exists (NVIDIA's 32-lane subgroups turn a tile of 8 lanes into 32).
 */
export function sharedWorkgroup(gpu: Gpu, wg: number): number {
  return Math.max(wg, gpu.adapter.info.subgroupMaxSize ?? 0);
}
