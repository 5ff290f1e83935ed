enable subgroups;
// The 16 GEMMs of a Winograd F(2x2, 3x3) weight gradient (shaders/winograd_transform.wgsl has the
// layouts): dU[xi][ci][co] = sum over tiles t of V[xi][t][ci] dM[xi][t][co], for xi < 16, in one
// dispatch; V is the input's transform, dM = A dy A^T the output gradient's (transformOutputGrad).
// A shared tile: a workgroup's lanes all take the same TM rows (input channels), each its own NV vec4
// columns of output channels. For each tile t the rows' TM values of V[xi][t] are TM / 4 vec4s, which
// SHARE lanes of a subgroup load between them and pass round with subgroupShuffle (on lavapipe a
// storage load costs a loop over the SIMD lanes, a shuffle one vector permute); each lane loads its own
// columns of dM. Sums over t run in order (deterministic).
//
// Specialised by TM (a multiple of 4), NV, WG and SHARE. Needs cin and cout multiples of 4 and
// subgroups of at least SHARE lanes.
#include "common.wgsl"

const TM: u32 = ${TM}u;
const NV: u32 = ${NV}u;
const WG: u32 = ${WG}u;
const SHARE: u32 = ${SHARE}u;
/** vec4s of V a tile's rows take, and how many each lane loads (SHARE lanes between them). */
const TM4: u32 = TM / 4u;
const LOADS: u32 = (TM4 + SHARE - 1u) / SHARE;

struct Params {
  tiles: u32,
  cin4: u32,
  cout4: u32,
  // Workgroups per GEMM: rowTiles * colTiles, the column tiles of a row tile side by side.
  rowTiles: u32,
  colTiles: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> DM: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> DU: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  // The only early exit, uniform over the workgroup: subgroupShuffle needs every lane, so lanes past the
  // edge run on clamped indices and only skip their stores.
  let perGemm = p.rowTiles * p.colTiles;
  let group = flatWorkgroup(wg);
  if (group >= 16u * perGemm) {
    return;
  }
  let xi = group / perGemm;
  let inGemm = group % perGemm;
  let row4 = (inGemm / p.colTiles) * TM4;
  let col0 = ((inGemm % p.colTiles) * WG + lid.x) * NV;
  var cols: array<u32, NV>;
  for (var q = 0u; q < NV; q++) {
    cols[q] = min(col0 + q, p.cout4 - 1u);
  }
  // The vec4s of the rows this lane loads (past the last row, the last: computed, never stored).
  var mineAt: array<u32, LOADS>;
  for (var s = 0u; s < LOADS; s++) {
    mineAt[s] = min(row4 + s * SHARE + lane % SHARE, p.cin4 - 1u);
  }

  var acc: array<array<vec4<f32>, NV>, TM>;
  for (var t = 0u; t < p.tiles; t++) {
    let vRow = (xi * p.tiles + t) * p.cin4;
    var mine: array<vec4<f32>, LOADS>;
    for (var s = 0u; s < LOADS; s++) {
      mine[s] = V[vRow + mineAt[s]];
    }
    let mRow = (xi * p.tiles + t) * p.cout4;  // MUTANT(stride): let mRow = (xi * p.tiles + t) * p.cin4;
    var dm: array<vec4<f32>, NV>;
    for (var q = 0u; q < NV; q++) {
      dm[q] = DM[mRow + cols[q]];  // MUTANT(index): dm[q] = DM[mRow + col0];
    }
    // Rows 4k .. 4k + 3 were loaded by lane k % SHARE, in its slot k / SHARE.
    for (var k = 0u; k < TM4; k++) {
      let v = subgroupShuffle(mine[k / SHARE], k % SHARE);
      for (var q = 0u; q < NV; q++) {
        acc[4u * k][q] = acc[4u * k][q] + v.x * dm[q];
        acc[4u * k + 1u][q] = acc[4u * k + 1u][q] + v.y * dm[q];
        acc[4u * k + 2u][q] = acc[4u * k + 2u][q] + v.z * dm[q];
        acc[4u * k + 3u][q] = acc[4u * k + 3u][q] + v.w * dm[q];  // MUTANT(term): acc[4u * k + 3u][q] = acc[4u * k + 3u][q] + v.z * dm[q];
      }
    }
  }

  let cin = p.cin4 * 4u;
  for (var r = 0u; r < TM; r++) {
    let row = row4 * 4u + r;
    if (row >= cin) {
      break;
    }
    for (var q = 0u; q < NV; q++) {
      let col = col0 + q;
      if (col < p.cout4) {
        DU[(xi * cin + row) * p.cout4 + col] = acc[r][q];
      }
    }
  }
}
