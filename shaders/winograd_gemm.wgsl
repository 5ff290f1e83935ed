enable subgroups;
// The 16 GEMMs of a Winograd F(2x2, 3x3) conv2d (shaders/winograd_transform.wgsl has the layouts):
// M[xi][t][co] = sum over ci of V[xi][t][ci] U[xi][ci][co], for xi < 16, rows t < tiles, in one dispatch.
// The shared tile of conv2d.wgsl with a 1x1 kernel: a workgroup's lanes all take the same TP rows (2x2
// output tiles), each its own NV vec4 columns of output channels; SHARE lanes of a subgroup load 1/SHARE
// of the rows' vec4s each and pass them round with subgroupShuffle (on lavapipe a storage load costs a
// loop over the SIMD lanes, a shuffle one vector permute). Sums over ci run in a fixed order.
//
// Specialised by TM, NV, WG, PG (conv_pixel_tile.inc.wgsl's pixel groups) and SHARE. Needs cin and cout
// multiples of 4 and subgroups of at least SHARE lanes.
#include "common.wgsl"
#include "conv_register_tile.inc.wgsl"

const TM: u32 = ${TM}u;
const SHARED: bool = true;
#include "conv_pixel_tile.inc.wgsl"

struct Params {
  tiles: u32,
  cin4: u32,
  cout4: u32,
  // Workgroups per GEMM: pixelTiles * colTiles, the channel tiles of a row tile side by side.
  colTiles: u32,
  pixelTiles: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// V, the GEMMs' A.
@group(0) @binding(1) var<storage, read> V: array<vec4<f32>>;
// U, the GEMMs' B.
@group(0) @binding(2) var<storage, read> U: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> M: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  // The only early exit, uniform over the workgroup: subgroupShuffle needs every lane, so lanes past the
  // edge run on clamped indices and only skip their stores.
  let perGemm = p.pixelTiles * p.colTiles;
  let group = flatWorkgroup(wg);
  if (group >= 16u * perGemm) {
    return;
  }
  let xi = group / perGemm;
  let inGemm = group % perGemm;
  let at = sharedLane(inGemm / p.colTiles, inGemm % p.colTiles, lid.x, lane);
  let cols = clampedColumns(at.col0, p.cout4);
  let cin = p.cin4 * 4u;

  // Row (2x2 tile) of each loaded vec4 in V, clamped to the last: computed, never stored.
  var vBase: array<u32, LOADS>;
  for (var s = 0u; s < LOADS; s++) {
    vBase[s] = (xi * p.tiles + min(at.load0 + s * LOAD_STEP, p.tiles - 1u)) * p.cin4;
  }
  let uBase = xi * cin * p.cout4;  // MUTANT(stride): let uBase = xi * cin * p.cin4;

  var acc: array<array<vec4<f32>, NV>, TM>;
  for (var c4 = 0u; c4 < p.cin4; c4++) {
    var mine: array<vec4<f32>, LOADS>;
    for (var s = 0u; s < LOADS; s++) {
      mine[s] = V[vBase[s] + c4];
    }
    var w: array<vec4<f32>, 4u * NV>;
    for (var q = 0u; q < NV; q++) {
      for (var e = 0u; e < 4u; e++) {
        w[4u * q + e] = U[uBase + (4u * c4 + e) * p.cout4 + cols[q]];  // MUTANT(index): w[4u * q + e] = U[uBase + (4u * c4) * p.cout4 + cols[q]];
      }
    }
    // Row r * PG + pg of the tile was loaded by lane (r * PG + pg) % SHARE, in its slot (r * PG) / SHARE.
    for (var r = 0u; r < TM; r++) {
      let v = subgroupShuffle(mine[(r * PG) / SHARE], (r * PG + at.pg) % SHARE);
      for (var q = 0u; q < NV; q++) {
        acc[r][q] = acc[r][q] + v.x * w[4u * q] + v.y * w[4u * q + 1u] + v.z * w[4u * q + 2u] + v.w * w[4u * q + 3u];  // MUTANT(term): acc[r][q] = acc[r][q] + v.x * w[4u * q] + v.y * w[4u * q + 1u] + v.z * w[4u * q + 2u];
      }
    }
  }

  for (var r = 0u; r < TM; r++) {
    let t = at.pixel0 + r * ROW_STEP;
    if (t >= p.tiles) {
      break;
    }
    for (var q = 0u; q < NV; q++) {
      let col = at.col0 + q;
      if (col >= p.cout4) {
        break;
      }
      M[(xi * p.tiles + t) * p.cout4 + col] = acc[r][q];
    }
  }
}
