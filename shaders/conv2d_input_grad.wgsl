#if ${SHARE_DY}
enable subgroups;
#endif
// Input gradient of conv2d, the transposed convolution, as an implicit GEMM: M = input pixels, N = cin,
// K = the taps (i, j, co) that reach each pixel, gathered straight from the NHWC dy and the transposed,
// padded weights WT[tap, co, ci] (shaders/conv2d_weight_transpose.wgsl). Register blocking, no workgroup
// memory: each invocation owns TM input pixels x NV vec4 columns of input channels.
//
// Sub-pixel decomposition: with stride s, input row y is reached only by taps i = (y + pad) mod s + k*s.
// Pixels are grouped by their parity class (y mod s, x mod s), one class per workgroup z, and a tile
// holds pixels of one class, so every pixel of a tile shares the same tap set and no tap is wasted on
// rows between strided outputs. Pixels no tap reaches get an empty sum: their gradient is written as 0.
//
// Specialised by
//   TM, NV     the register tile (pixels, vec4 columns of input channels);
//   VEC_DY     cout % 4 == 0: dy is read as vec4 along cout, else scalar loads (the padded lanes are 0);
//   VEC_DX     cin % 4 == 0: dx is written as vec4, else the surplus lanes are computed and not written;
//   SHARE_DY   (needs subgroups of >= SHARE lanes) a workgroup's lanes all take the same pixels, each its
//              own NV columns, and SHARE lanes of a subgroup load 1/SHARE each of the dy vectors all of
//              them need and pass them round with subgroupShuffle, as in shaders/conv2d.wgsl. This
//              variant reads the HWIO weights W themselves (binding 2), no transposed copy: a lane's
//              column is 4 rows of W, read as vec4s along cout, so the same products are summed in
//              the same order;
//   VEC_W      (SHARE_DY) cout % 4 == 0: W is read as vec4 along cout, else scalar loads (clamped to the
//              last output channel: dy is 0 there);
//   PG         (SHARE_DY) pixel groups: for layers too narrow to give every lane its own columns, the
//              lanes split into PG groups that take interleaved pixels of a TM * PG pixel tile.
#include "common.wgsl"

const WG: u32 = ${WG}u;
const TM: u32 = ${TM}u;
const NV: u32 = ${NV}u;

struct Params {
#include "conv_geometry_fields.wgsl"
  n: u32,
  // ceil(cin / 4): vec4 columns of WT and (VEC_DX) dx
  cin4: u32,
  // ceil(cout / 4): groups of 4 output channels summed per step
  cout4: u32,
  // Channel tiles per pixel tile: ceil(cin4 / NV), or with SHARE_DY ceil(cin4 / (NV * WG / PG))
  colTiles: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC_DY}
@group(0) @binding(1) var<storage, read> DY: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> DY: array<f32>;
#endif
#if ${SHARE_DY}
#if ${VEC_W}
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
#else
@group(0) @binding(2) var<storage, read> W: array<f32>;
#endif
#else
@group(0) @binding(2) var<storage, read> WT: array<vec4<f32>>;
#endif
#if ${VEC_DX}
@group(0) @binding(3) var<storage, read_write> DX: array<vec4<f32>>;
#else
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
#endif

// dy at output pixel `pix`, channels 4*c4 .. 4*c4 + 3 (0 past cout).
fn loadDy(pix: u32, c4: u32) -> vec4<f32> {
#if ${VEC_DY}
  return DY[pix * p.cout4 + c4];
#else
  let base = pix * p.cout;
  let last = base + p.cout - 1u;
  let c = base + c4 * 4u;
  return vec4<f32>(select(0.0, DY[min(c, last)], c <= last), select(0.0, DY[min(c + 1u, last)], c + 1u <= last),
                   select(0.0, DY[min(c + 2u, last)], c + 2u <= last), select(0.0, DY[min(c + 3u, last)], c + 3u <= last));
#endif
}

#if ${SHARE_DY}
/** Lanes that share one tile of dy vectors; TM * PG is a multiple of it, and PG divides it. */
// Lanes a subgroup shuffle shares among: SHARE of src/gpu/subgroups.ts, the one definition.
const SHARE: u32 = ${SHARE}u;
const PG: u32 = ${PG}u;
/** Pixels of a workgroup's tile. */
const TP: u32 = TM * PG;
/** dy vectors each lane loads per step: the TP pixels over SHARE lanes. */
const DQ: u32 = TP / SHARE;

#if ${SHARE_DY}
// W row `row` (= tap * cin + ci), output channels 4*c4 .. 4*c4 + 3 (clamped to the last: dy is 0 there).
fn loadW(row: u32, c4: u32) -> vec4<f32> {
#if ${VEC_W}
  return W[row * p.cout4 + c4];
#else
  let base = row * p.cout;
  let last = base + p.cout - 1u;
  let c = base + c4 * 4u;
  return vec4<f32>(W[min(c, last)], W[min(c + 1u, last)], W[min(c + 2u, last)], W[min(c + 3u, last)]);
#endif
}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(local_invocation_id) lid: vec3<u32>) {
  let s = p.stride;
  let py = wid.z / s;
  let px = wid.z % s;
  if (py >= p.h || px >= p.w) {
    return;
  }
  let ch = (p.h - py + s - 1u) / s;
  let cw = (p.w - px + s - 1u) / s;
  let pixels = p.n * ch * cw;
  // The grid's x and y are a flat list of workgroups (the channel tiles of a pixel tile side by side).
  // The only early exits, uniform over the workgroup: subgroupShuffle needs every lane, so lanes past
  // the edge run on clamped indices and only skip their stores.
  let group = wid.y * nwg.x + wid.x;
  if (group >= ((pixels + TP - 1u) / TP) * p.colTiles) {
    return;
  }
  let pixelTile = group / p.colTiles;
  let colTile = group % p.colTiles;
  // Lane lid.x takes pixels pg, pg + PG, ... of the tile and its own NV columns.
  let pg = lid.x % PG;
  let col0 = (colTile * (WG / PG) + lid.x / PG) * NV;
  var cols: array<u32, NV>;
  for (var q = 0u; q < NV; q++) {
    cols[q] = min(col0 + q, p.cin4 - 1u);
  }

  let i0 = (py + p.pad) % s;
  let j0 = (px + p.pad) % s;
  let oy0 = (py + p.pad) / s;
  let ox0 = (px + p.pad) / s;
  // This lane's share of the tile's loads: pixels pixelTile * TP + d * SHARE + mine, for d < DQ.
  let mine = lane % SHARE;
  var oyA: array<i32, DQ>;
  var oxB: array<i32, DQ>;
  var imgRow: array<u32, DQ>;
  for (var d = 0u; d < DQ; d++) {
    let m = min(pixelTile * TP + d * SHARE + mine, pixels - 1u);
    oxB[d] = i32(m % cw + ox0);
    oyA[d] = i32((m / cw) % ch + oy0);
    imgRow[d] = (m / (cw * ch)) * p.oh;
  }

  var acc: array<array<vec4<f32>, NV>, TM>;
  for (var r = 0u; r < TM; r++) {
    for (var q = 0u; q < NV; q++) {
      acc[r][q] = vec4<f32>(0.0);
    }
  }

  var ti = 0;
  for (var i = i0; i < p.kh; i += s) {
    var tj = 0;
    for (var j = j0; j < p.kw; j += s) {
      var dyPix: array<u32, DQ>;
      var valid: array<bool, DQ>;
      for (var d = 0u; d < DQ; d++) {
        let oy = oyA[d] - ti;  // MUTANT(index): let oy = oyA[d] - tj;
        let ox = oxB[d] - tj;
        valid[d] = oy >= 0 && oy < i32(p.oh) && ox >= 0 && ox < i32(p.ow);
        dyPix[d] = select(0u, (imgRow[d] + u32(oy)) * p.ow + u32(ox), valid[d]);  // MUTANT(stride): dyPix[d] = select(0u, (imgRow[d] + u32(oy)) * p.oh + u32(ox), valid[d]);
      }
      // W rows of the lane's input channels at this tap; channels past cin clamped to the last (their
      // sums are computed, never written).
      var wRow: array<u32, 4u * NV>;
      for (var q = 0u; q < NV; q++) {
        for (var e = 0u; e < 4u; e++) {
          wRow[4u * q + e] = (i * p.kw + j) * p.cin + min(cols[q] * 4u + e, p.cin - 1u);
        }
      }
      for (var c4 = 0u; c4 < p.cout4; c4++) {
        var mineDy: array<vec4<f32>, DQ>;
        for (var d = 0u; d < DQ; d++) {
          mineDy[d] = select(vec4<f32>(0.0), loadDy(dyPix[d], c4), valid[d]);
        }
        // wv[4q + e]: input channel 4 * cols[q] + e, output channels 4*c4 .. 4*c4 + 3.
        var wv: array<vec4<f32>, 4u * NV>;
        for (var e = 0u; e < 4u * NV; e++) {
          wv[e] = loadW(wRow[e], c4);
        }
        // Pixel r * PG + pg of the tile was loaded by lane (r * PG + pg) % SHARE, in its slot
        // (r * PG) / SHARE: the same for every lane, as PG divides SHARE.
        for (var r = 0u; r < TM; r++) {
          let dyv = subgroupShuffle(mineDy[(r * PG) / SHARE], (r * PG + pg) % SHARE);
          for (var q = 0u; q < NV; q++) {
            let a = acc[r][q];
            let w0 = wv[4u * q];
            let w1 = wv[4u * q + 1u];
            let w2 = wv[4u * q + 2u];
            let w3 = wv[4u * q + 3u];
            acc[r][q] = vec4<f32>(a.x + dyv.x * w0.x + dyv.y * w0.y + dyv.z * w0.z + dyv.w * w0.w,
                                  a.y + dyv.x * w1.x + dyv.y * w1.y + dyv.z * w1.z + dyv.w * w1.w,
                                  a.z + dyv.x * w2.x + dyv.y * w2.y + dyv.z * w2.z + dyv.w * w2.w,  // MUTANT(term): a.z + dyv.x * w2.x + dyv.y * w2.y + dyv.z * w2.z,
                                  a.w + dyv.x * w3.x + dyv.y * w3.y + dyv.z * w3.z + dyv.w * w3.w);
          }
        }
      }
      tj++;
    }
    ti++;
  }

  for (var r = 0u; r < TM; r++) {
    let m = pixelTile * TP + r * PG + pg;
    if (m >= pixels) {
      break;
    }
    let y = py + ((m / cw) % ch) * s;
    let x = px + (m % cw) * s;
    let pix = ((m / (cw * ch)) * p.h + y) * p.w + x;
    for (var q = 0u; q < NV; q++) {
      let col = col0 + q;
      if (col >= p.cin4) {
        break;
      }
#if ${VEC_DX}
      DX[pix * p.cin4 + col] = acc[r][q];
#else
      let base = pix * p.cin + col * 4u;
      let valid = p.cin - col * 4u;
      for (var e = 0u; e < min(valid, 4u); e++) {
        DX[base + e] = acc[r][q][e];
      }
#endif
    }
  }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let s = p.stride;
  let py = wid.z / s;
  let px = wid.z % s;
  if (py >= p.h || px >= p.w) {
    return;
  }
  // The class's pixels: rows py, py + s, ... and columns px, px + s, ... of every image.
  let ch = (p.h - py + s - 1u) / s;
  let cw = (p.w - px + s - 1u) / s;
  let pixels = p.n * ch * cw;
  let t = flatIndex(wid, nwg, lid, WG);
  if (t >= ((pixels + TM - 1u) / TM) * p.colTiles) {
    return;
  }
  // Neighbouring invocations take neighbouring channel tiles of the same pixels: the dy loads of a
  // workgroup coincide and the weight loads are contiguous.
  let colTile = t % p.colTiles;
  let pixelTile = t / p.colTiles;

  var cols: array<u32, NV>;
  for (var q = 0u; q < NV; q++) {
    cols[q] = min(colTile * NV + q, p.cin4 - 1u);
  }

  // The class's first taps i0, j0, and the output row/column they reach from class row/column 0; tap
  // i0 + ti*s of class row a reads output row a + oy0 - ti.
  let i0 = (py + p.pad) % s;
  let j0 = (px + p.pad) % s;
  let oy0 = (py + p.pad) / s;
  let ox0 = (px + p.pad) / s;
  var oyA: array<i32, TM>;
  var oxB: array<i32, TM>;
  var imgRow: array<u32, TM>;
  for (var r = 0u; r < TM; r++) {
    // Pixels past the end are clamped to the last one: computed redundantly, never written.
    let m = min(pixelTile * TM + r, pixels - 1u);
    oxB[r] = i32(m % cw + ox0);
    oyA[r] = i32((m / cw) % ch + oy0);
    imgRow[r] = (m / (cw * ch)) * p.oh;
  }

  var acc: array<array<vec4<f32>, NV>, TM>;
  for (var r = 0u; r < TM; r++) {
    for (var q = 0u; q < NV; q++) {
      acc[r][q] = vec4<f32>(0.0);
    }
  }

  var ti = 0;
  for (var i = i0; i < p.kh; i += s) {
    var tj = 0;
    for (var j = j0; j < p.kw; j += s) {
      // Output pixel each input pixel reads through this tap, or none past the borders of dy.
      var dyPix: array<u32, TM>;
      var valid: array<bool, TM>;
      var anyValid = false;
      for (var r = 0u; r < TM; r++) {
        let oy = oyA[r] - ti;  // MUTANT(index): let oy = oyA[r] - tj;
        let ox = oxB[r] - tj;  // MUTANT(index): let ox = oxB[r] - ti;
        valid[r] = oy >= 0 && oy < i32(p.oh) && ox >= 0 && ox < i32(p.ow);
        dyPix[r] = select(0u, (imgRow[r] + u32(oy)) * p.ow + u32(ox), valid[r]);  // MUTANT(stride): dyPix[r] = select(0u, (imgRow[r] + u32(oy)) * p.oh + u32(ox), valid[r]);
        anyValid = anyValid || valid[r];
      }
      if (anyValid) {
        // WT row of (tap, co = 0); rows are cin4 vec4s long.
        let row0 = (i * p.kw + j) * p.cout4 * 4u;
        for (var c4 = 0u; c4 < p.cout4; c4++) {
          var dyv: array<vec4<f32>, TM>;
          for (var r = 0u; r < TM; r++) {
            dyv[r] = select(vec4<f32>(0.0), loadDy(dyPix[r], c4), valid[r]);
          }
          let row = row0 + c4 * 4u;
          for (var q = 0u; q < NV; q++) {
            let w0 = WT[row * p.cin4 + cols[q]];
            let w1 = WT[(row + 1u) * p.cin4 + cols[q]];
            let w2 = WT[(row + 2u) * p.cin4 + cols[q]];  // MUTANT(stride): let w2 = WT[(row + 2u) * p.cout4 + cols[q]];
            let w3 = WT[(row + 3u) * p.cin4 + cols[q]];
            for (var r = 0u; r < TM; r++) {
              acc[r][q] = acc[r][q] + dyv[r].x * w0 + dyv[r].y * w1 + dyv[r].z * w2 + dyv[r].w * w3;  // MUTANT(term): acc[r][q] = acc[r][q] + dyv[r].x * w0 + dyv[r].y * w1 + dyv[r].z * w2;
            }
          }
        }
      }
      tj++;
    }
    ti++;
  }

  for (var r = 0u; r < TM; r++) {
    let m = pixelTile * TM + r;
    if (m >= pixels) {
      break;
    }
    let y = py + ((m / cw) % ch) * s;
    let x = px + (m % cw) * s;
    let pix = ((m / (cw * ch)) * p.h + y) * p.w + x;
    for (var q = 0u; q < NV; q++) {
      let col = colTile * NV + q;
      if (col >= p.cin4) {
        break;
      }
#if ${VEC_DX}
      DX[pix * p.cin4 + col] = acc[r][q];
#else
      let base = pix * p.cin + col * 4u;
      let valid = p.cin - col * 4u;
      for (var e = 0u; e < min(valid, 4u); e++) {
        DX[base + e] = acc[r][q][e];
      }
#endif
    }
  }
}
#endif
