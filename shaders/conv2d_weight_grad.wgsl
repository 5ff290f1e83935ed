// Weight gradient of conv2d as an implicit GEMM: M = kh*kw*cin weight rows, N = cout, K = the n*oh*ow
// output pixels, read straight from the NHWC x and dy. The K sum is split by output rows into `splits`
// ranges (split-K): each invocation writes one partial sum, in a fixed order, and the host sums the
// partials in a second pass (deterministic, no atomics). Register blocking, no workgroup memory: each
// invocation owns TV vec4 groups of input channels (4*TV weight rows of one tap) x NV vec4 columns of
// output channels.
//
// Specialised by
//   TV, NV     the register tile (vec4 groups of input channels, vec4 columns of output channels);
//   VEC_X      cin % 4 == 0: x is read as vec4 along cin;
//   VEC_DY     cout % 4 == 0: dy is read and the partials written as vec4 along cout;
//   SHARE_X    (needs subgroups of >= SHARE lanes) a workgroup's lanes all take the same weight rows
//              (one tap, TV vec4 groups of input channels), each its own NV columns of output channels,
//              and walk the split's pixels SHARE at a time: each lane loads the x vectors (and the dy
//              pixel index) of one of them and passes them round with subgroupShuffle, as in
//              shaders/conv2d.wgsl (on lavapipe a storage load costs a loop over the SIMD lanes, a
//              shuffle one vector permute). The same products are summed in the same pixel order.
// Otherwise channels past the end are clamped to the last one: their lanes are computed, never written.
#if ${SHARE_X}
enable subgroups;
#endif
#include "common.wgsl"
#include "conv_register_tile.inc.wgsl"

const TV: u32 = ${TV}u;

struct Params {
#include "conv_geometry_fields.wgsl"
  // n * oh: the output rows that the splits share out
  rows: u32,
  rowsPerSplit: u32,
  splits: u32,
  // ceil(cin / 4), ceil(cout / 4)
  cin4: u32,
  cout4: u32,
  // ceil(cin4 / TV), ceil(cout4 / NV): tiles of one tap
  ciTiles: u32,
  colTiles: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#include "vec4_binding.inc.wgsl" BUF=X BINDING=1 VEC=${VEC_X} ACCESS=read
#include "vec4_binding.inc.wgsl" BUF=DY BINDING=2 VEC=${VEC_DY} ACCESS=read
#include "vec4_binding.inc.wgsl" BUF=Partials BINDING=3 VEC=${VEC_DY} ACCESS=read_write

// x at input pixel `pix`, dy at output pixel `pix`.
#include "vec4_loader.inc.wgsl" FN=loadX BUF=X VEC=${VEC_X} C=cin C4=cin4
#include "vec4_loader.inc.wgsl" FN=loadDy BUF=DY VEC=${VEC_DY} C=cout C4=cout4

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>,
#if ${SHARE_X}
        @builtin(subgroup_invocation_id) lane: u32,
#endif
        ) {
  let taps = p.kh * p.kw;
#if ${SHARE_X}
  // The grid's x and y are a flat list of workgroups. The only early exit, uniform over the workgroup:
  // subgroupShuffle needs every lane, so lanes past the edge run on clamped indices and skip their stores.
  let t = flatWorkgroup(wg);
#else
  let t = flatIndex(wg, lid, WG);
#endif
  if (t >= p.splits * taps * p.ciTiles * p.colTiles) {
    return;
  }
  // Neighbouring invocations (lanes when shared) take neighbouring output-channel tiles of the same
  // weight rows: their x loads coincide and their dy loads are contiguous.
  let colTile = t % p.colTiles;
  let ciTile = (t / p.colTiles) % p.ciTiles;
  let tap = (t / (p.colTiles * p.ciTiles)) % taps;
  let split = t / (p.colTiles * p.ciTiles * taps);
  let i = tap / p.kw;
  let j = tap % p.kw;

  var cis: array<u32, TV>;
  for (var v = 0u; v < TV; v++) {
    cis[v] = min(ciTile * TV + v, p.cin4 - 1u);
  }
#if ${SHARE_X}
  let col0 = (colTile * WG + lid.x) * NV;
#else
  let col0 = colTile * NV;
#endif
  let cols = clampedColumns(col0, p.cout4);

  // Output columns whose tap j lands inside the input (ix = ox*s - pad + j in [0, w)), so the inner
  // loop runs without a padding test.
  let s = p.stride;
  let oxLo = select(0u, (p.pad - j + s - 1u) / s, p.pad > j);  // MUTANT(index): let oxLo = select(0u, (p.pad - j) / s, p.pad > j);
  let oxHi = select(0u, min(p.ow, (p.w - 1u + p.pad - j) / s + 1u), p.w + p.pad > j);

  // Zero, as every WGSL variable starts.
  var acc: array<array<vec4<f32>, NV>, TV * 4u>;
#if ${SHARE_X}
  let width = select(0u, oxHi - oxLo, oxHi > oxLo);
  // The split's pixels (its rows x those columns) in order, m = (row - rowStart) * width + ox - oxLo.
  let rowStart = split * p.rowsPerSplit;
  let rowEnd = min(rowStart + p.rowsPerSplit, p.rows);
  let total = select(0u, (rowEnd - rowStart) * width, rowEnd > rowStart);
  // Pixels whose x vectors SHARE lanes load one each and pass round.
  let mine = lane % SHARE;
  for (var m0 = 0u; m0 < total; m0 += SHARE) {
    // This lane's pixel of the chunk; past the end, or on a row tap i puts outside the input, its x is
    // 0 (a product of exactly 0) and its indices are clamped.
    let m = min(m0 + mine, total - 1u);
    let row = rowStart + m / width;
    let ox = oxLo + m % width;  // MUTANT(index): let ox = oxLo + m / width;
    let iy = i32((row % p.oh) * s + i) - i32(p.pad);
    let inside = m0 + mine < total && iy >= 0 && iy < i32(p.h);  // MUTANT(term): let inside = iy >= 0 && iy < i32(p.h);
    let xPix = ((row / p.oh) * p.h + u32(clamp(iy, 0, i32(p.h) - 1))) * p.w + ox * s + j - p.pad;  // MUTANT(stride): let xPix = ((row / p.oh) * p.w + u32(clamp(iy, 0, i32(p.h) - 1))) * p.h + ox * s + j - p.pad;
    var mineX: array<vec4<f32>, TV>;
    for (var v = 0u; v < TV; v++) {
      mineX[v] = select(vec4<f32>(0.0), loadX(xPix, cis[v]), inside);
    }
    let mineDy = row * p.ow + ox;  // MUTANT(stride): let mineDy = row * p.oh + ox;
    for (var k = 0u; k < SHARE; k++) {
      let dyPix = subgroupShuffle(mineDy, k);
      var xv: array<vec4<f32>, TV>;
      for (var v = 0u; v < TV; v++) {
        xv[v] = subgroupShuffle(mineX[v], k);
      }
      for (var q = 0u; q < NV; q++) {
        let d = loadDy(dyPix, cols[q]);
        for (var v = 0u; v < TV; v++) {
          acc[v * 4u][q] = acc[v * 4u][q] + xv[v].x * d;
          acc[v * 4u + 1u][q] = acc[v * 4u + 1u][q] + xv[v].y * d;  // MUTANT(index): acc[v * 4u + 1u][q] = acc[v * 4u + 1u][q] + xv[v].x * d;
          acc[v * 4u + 2u][q] = acc[v * 4u + 2u][q] + xv[v].z * d;
          acc[v * 4u + 3u][q] = acc[v * 4u + 3u][q] + xv[v].w * d;  // MUTANT(term): acc[v * 4u + 3u][q] = xv[v].w * d;
        }
      }
    }
  }
#else
  let rowEnd = min((split + 1u) * p.rowsPerSplit, p.rows);
  for (var row = split * p.rowsPerSplit; row < rowEnd; row++) {
    let oy = row % p.oh;
    let iy = i32(oy * s + i) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.h) || oxLo >= oxHi) {
      continue;
    }
    // Input pixel of the first valid column, and the dy pixel it pairs with.
    var xPix = ((row / p.oh) * p.h + u32(iy)) * p.w + oxLo * s + j - p.pad;  // MUTANT(stride): var xPix = ((row / p.oh) * p.w + u32(iy)) * p.h + oxLo * s + j - p.pad;
    var dyPix = row * p.ow + oxLo;  // MUTANT(stride): var dyPix = row * p.oh + oxLo;
    for (var ox = oxLo; ox < oxHi; ox++) {
      var xv: array<vec4<f32>, TV>;
      for (var v = 0u; v < TV; v++) {
        xv[v] = loadX(xPix, cis[v]);
      }
      for (var q = 0u; q < NV; q++) {
        let d = loadDy(dyPix, cols[q]);
        for (var v = 0u; v < TV; v++) {
          acc[v * 4u][q] = acc[v * 4u][q] + xv[v].x * d;  // MUTANT(index): acc[v * 4u][q] = acc[v * 4u][q] + xv[v].x * loadDy(dyPix, cols[0]);
          acc[v * 4u + 1u][q] = acc[v * 4u + 1u][q] + xv[v].y * d;
          acc[v * 4u + 2u][q] = acc[v * 4u + 2u][q] + xv[v].z * d;  // MUTANT(index): acc[v * 4u + 2u][q] = acc[v * 4u + 2u][q] + xv[v].y * d;
          acc[v * 4u + 3u][q] = acc[v * 4u + 3u][q] + xv[v].w * d;  // MUTANT(term): acc[v * 4u + 3u][q] = xv[v].w * d;
        }
      }
      xPix += s;
      dyPix += 1u;
    }
  }
#endif

  // Partials[split, tap, ci, co]; with one split this is dw itself.
  let rowBase = (split * taps + tap) * p.cin;
  for (var v = 0u; v < TV; v++) {
    for (var e = 0u; e < 4u; e++) {
      let ci = (ciTile * TV + v) * 4u + e;
      if (ci >= p.cin) {
        break;
      }
      for (var q = 0u; q < NV; q++) {
        let col = col0 + q;
        if (col >= p.cout4) {
          break;
        }
#if ${VEC_DY}
        Partials[(rowBase + ci) * p.cout4 + col] = acc[v * 4u + e][q];
#else
        let base = (rowBase + ci) * p.cout + col * 4u;
        for (var k = 0u; k < lanesBelow(p.cout, col); k++) {
          Partials[base + k] = acc[v * 4u + e][q][k];
        }
#endif
      }
    }
  }
}
