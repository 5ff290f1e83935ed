// Matmul: C[m, n] = op(A) op(B), op an optional transpose of the stored operand (MatmulGeometry).
// Shader: shaders/matmul.wgsl (register-tiled, no workgroup memory; A shared through subgroup shuffles
// where the device has subgroups of at least SHARE lanes).
import type { MatmulGeometry } from '../core/geometry.js';
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';
import { SHARE, canRunSharedTiles, sharedWorkgroup } from '../gpu/subgroups.js';

/** A tile configuration: each invocation computes tm x tn of C; a workgroup is wgX x wgY invocations. */
export interface MatmulTile {
  tm: number;
  tn: number;
  wgX: number;
  wgY: number;
  /** Rows of A loaded once per subgroup and passed around with subgroupShuffle (needs wgY = 1). */
  shareA: boolean;
}

/**
 * Measured on lavapipe at 512^3 (src/measure/matmul.ts, 2 cores shared with other jobs): shared 16x4 runs
 * 13-18 GFLOP/s in every transpose variant; 24x4 and 32x4 match it untransposed but run 3-10x slower
 * transposed (the driver leaves their loops rolled); tn = 8 runs 5-10. The plain tile (no subgroups)
 * 8x8 runs 5-7; 16x16 runs 6-12 but takes 11-14 s of CPU to compile per variant (8x8: 2.5 s).
 */
const SHARED_TILE: MatmulTile = { tm: 16, tn: 4, wgX: 8, wgY: 1, shareA: true };
export const PLAIN_TILE: MatmulTile = { tm: 8, tn: 8, wgX: 8, wgY: 8, shareA: false };

const F32 = 4;
const VEC = 4;

export function defaultMatmulTile(gpu: Gpu): MatmulTile {
  return canRunSharedTiles(gpu) ? SHARED_TILE : PLAIN_TILE;
}

/**
 * vec4 loads need every vec4-read axis to be a multiple of 4: the contiguous axis of each stored
 * operand (k, or m for a transposed A; n, or k for a transposed B) and n, along which C is stored.
 */
function canUseVec4({ m, n, k, transA, transB }: MatmulGeometry): boolean {
  return n % VEC === 0 && (transA ? m : k) % VEC === 0 && (transB ? k : n) % VEC === 0;
}

function checkTile(gpu: Gpu, t: MatmulTile): void {
  const bad = (why: string): never => {
    throw new Error(`matmul: tile ${JSON.stringify(t)} ${why}`);
  };
  if (t.tm % VEC !== 0 || t.tn % VEC !== 0) bad('is not in multiples of 4');
  if (!t.shareA) return;
  if (t.wgY !== 1 || t.tm % SHARE !== 0) bad(`shares A only with wgY = 1 and tm a multiple of ${SHARE}`);
  if (!canRunSharedTiles(gpu)) bad(`needs subgroups of at least ${SHARE} lanes, which this device lacks`);
}

export function matmul(gpu: Gpu, a: BufferRef, b: BufferRef, g: MatmulGeometry, tile: MatmulTile = defaultMatmulTile(gpu)): BufferRef {
  const { m, n, k, transA, transB } = g;
  if (a.size < m * k * F32 || b.size < k * n * F32) {
    throw new Error(`matmul: buffers of ${a.size} and ${b.size} bytes are too small for [${m}, ${k}] x [${k}, ${n}]`);
  }
  checkTile(gpu, tile);
  const out = gpu.alloc(m * n * F32, 'matmul');
  if (m === 0 || n === 0) return out;
  // Whole subgroups only, so every lane a shuffle reads from exists: wgX a multiple of the largest.
  const wgX = tile.shareA ? sharedWorkgroup(gpu, tile.wgX) : tile.wgX;
  const colGroups = Math.ceil(n / (tile.tn * wgX));
  const groups = colGroups * Math.ceil(m / (tile.tm * tile.wgY));
  gpu.dispatch({
    kernel: 'matmul',
    shader: 'matmul.wgsl',
    defines: {
      TM: tile.tm, TN: tile.tn, WG_X: wgX, WG_Y: tile.wgY,
      TRANS_A: transA, TRANS_B: transB, VEC4: canUseVec4(g), SHARE_A: tile.shareA, SHARE,
    },
    uniforms: new Uniforms(8).u32(m, n, k, colGroups, groups).bytes(),
    buffers: [a, b, out],
    // One workgroup per grid1d "invocation": the flat list of workgroups is spread over x and y.
    workgroups: grid1d(groups, 1),
  });
  return out;
}
