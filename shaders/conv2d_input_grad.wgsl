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
#include "conv_register_tile.inc.wgsl"

const TM: u32 = ${TM}u;
// The subgroup-shared variant, for conv_pixel_tile.inc.wgsl.
const SHARED: bool = ${SHARE_DY};
#include "conv_pixel_tile.inc.wgsl"

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
#include "vec4_binding.inc.wgsl" BUF=DY BINDING=1 VEC=${VEC_DY} ACCESS=read
#if ${SHARE_DY}
#include "vec4_binding.inc.wgsl" BUF=W BINDING=2 VEC=${VEC_W} ACCESS=read
#else
@group(0) @binding(2) var<storage, read> WT: array<vec4<f32>>;
#endif
#include "vec4_binding.inc.wgsl" BUF=DX BINDING=3 VEC=${VEC_DX} ACCESS=read_write

// dy at output pixel `pix`, channels 4*c4 .. 4*c4 + 3 (0 past cout).
fn loadDy(pix: u32, c4: u32) -> vec4<f32> {
#if ${VEC_DY}
  return DY[pix * p.cout4 + c4];
#else
  let i = clampedLanes(pix, p.cout, c4);
  let inRow = vec4<u32>(c4 * 4u) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.cout);
  return select(vec4<f32>(0.0), vec4<f32>(DY[i.x], DY[i.y], DY[i.z], DY[i.w]), inRow);
#endif
}

#if ${SHARE_DY}
// W row `row` = tap * cin + ci (its clamped lanes past cout meet dy's zeros).
#include "vec4_loader.inc.wgsl" FN=loadW BUF=W VEC=${VEC_W} C=cout C4=cout4
#endif

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>,
#if ${SHARE_DY}
        @builtin(subgroup_invocation_id) lane: u32,
#endif
        ) {
  let s = p.stride;
  let py = wg.wid.z / s;
  let px = wg.wid.z % s;
  if (py >= p.h || px >= p.w) {
    return;
  }
  // The class's pixels: rows py, py + s, ... and columns px, px + s, ... of every image.
  let ch = (p.h - py + s - 1u) / s;
  let cw = (p.w - px + s - 1u) / s;
  let pixels = p.n * ch * cw;
#if ${SHARE_DY}
  // The grid's x and y are a flat list of workgroups (the channel tiles of a pixel tile side by side).
  // The only early exits, uniform over the workgroup: subgroupShuffle needs every lane, so lanes past
  // the edge run on clamped indices and only skip their stores.
  let t = flatWorkgroup(wg);
#else
  let t = flatIndex(wg, lid, WG);
#endif
  if (t >= ((pixels + TP - 1u) / TP) * p.colTiles) {
    return;
  }
  // Neighbouring invocations (workgroups when shared) take neighbouring channel tiles of the same
  // pixels: the dy loads coincide and the weight loads are contiguous.
  let colTile = t % p.colTiles;
  let pixelTile = t / p.colTiles;
#if ${SHARE_DY}
  let at = sharedLane(pixelTile, colTile, lid.x, lane);
#else
  let at = plainLane(pixelTile, colTile);
#endif
  let cols = clampedColumns(at.col0, p.cin4);

  // The class's first taps i0, j0, and the output row/column they reach from class row/column 0; tap
  // i0 + ti*s of class row a reads output row a + oy0 - ti.
  let i0 = (py + p.pad) % s;
  let j0 = (px + p.pad) % s;
  let oy0 = (py + p.pad) / s;
  let ox0 = (px + p.pad) / s;
  var oyA: array<i32, LOADS>;
  var oxB: array<i32, LOADS>;
  var imgRow: array<u32, LOADS>;
  for (var d = 0u; d < LOADS; d++) {
    // Pixels past the end are clamped to the last one: computed redundantly, never written.
    let m = min(at.load0 + d * LOAD_STEP, pixels - 1u);
    oxB[d] = i32(m % cw + ox0);
    oyA[d] = i32((m / cw) % ch + oy0);
    imgRow[d] = (m / (cw * ch)) * p.oh;
  }

  // Zero, as every WGSL variable starts.
  var acc: array<array<vec4<f32>, NV>, TM>;
  var ti = 0;
  for (var i = i0; i < p.kh; i += s) {
    var tj = 0;
    for (var j = j0; j < p.kw; j += s) {
      // Output pixel each loaded input pixel reads through this tap, or none past the borders of dy.
      var dyPix: array<u32, LOADS>;
      var valid: array<bool, LOADS>;
      var anyValid = false;
      for (var d = 0u; d < LOADS; d++) {
        let oy = oyA[d] - ti;  // MUTANT(index): let oy = oyA[d] - tj;
        let ox = oxB[d] - tj;  // MUTANT(index): let ox = oxB[d] - ti;
        valid[d] = oy >= 0 && oy < i32(p.oh) && ox >= 0 && ox < i32(p.ow);
        dyPix[d] = select(0u, (imgRow[d] + u32(oy)) * p.ow + u32(ox), valid[d]);  // MUTANT(stride): dyPix[d] = select(0u, (imgRow[d] + u32(oy)) * p.oh + u32(ox), valid[d]);
        anyValid = anyValid || valid[d];
      }
#if ${SHARE_DY}
      // No skipping of taps no pixel reaches (anyValid): subgroupShuffle needs every lane.
      // W rows of the lane's input channels at this tap; channels past cin clamped to the last (their
      // sums are computed, never written).
      var wRow: array<u32, 4u * NV>;
      for (var q = 0u; q < NV; q++) {
        for (var e = 0u; e < 4u; e++) {
          wRow[4u * q + e] = (i * p.kw + j) * p.cin + min(cols[q] * 4u + e, p.cin - 1u);
        }
      }
      for (var c4 = 0u; c4 < p.cout4; c4++) {
        var mineDy: array<vec4<f32>, LOADS>;
        for (var d = 0u; d < LOADS; d++) {
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
          let dyv = subgroupShuffle(mineDy[(r * PG) / SHARE], (r * PG + at.pg) % SHARE);
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
#else
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
#endif
      tj++;
    }
    ti++;
  }

  for (var r = 0u; r < TM; r++) {
    let m = at.pixel0 + r * ROW_STEP;
    if (m >= pixels) {
      break;
    }
    let y = py + ((m / cw) % ch) * s;
    let x = px + (m % cw) * s;
    let pix = ((m / (cw * ch)) * p.h + y) * p.w + x;
    for (var q = 0u; q < NV; q++) {
      let col = at.col0 + q;
      if (col >= p.cin4) {
        break;
      }
#if ${VEC_DX}
      DX[pix * p.cin4 + col] = acc[r][q];
#else
      let base = pix * p.cin + col * 4u;
      for (var e = 0u; e < lanesBelow(p.cin, col); e++) {
        DX[base + e] = acc[r][q][e];
      }
#endif
    }
  }
}
