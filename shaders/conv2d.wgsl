#if ${SHARE_X}
enable subgroups;
#endif
// Conv2d forward as an implicit GEMM: M = n*oh*ow output pixels, N = cout, K = kh*kw*cin, read straight
// from the NHWC input and HWIO weights (no im2col buffer). Register blocking, no workgroup memory (on the
// CPU Vulkan driver register tiles beat workgroup-memory tiles): each invocation owns TM consecutive
// output pixels x NV*4 consecutive output channels and sums over K in a fixed order (deterministic).
// The grid: x and y (grid1d) run over pixel tiles, z over channel tiles, so a workgroup reads one slab
// of the weights (measured 25% faster on lavapipe than interleaving channel tiles across invocations).
//
// Specialised by
//   TM, NV     the register tile (pixels, vec4 columns of channels);
//   VEC_IN     cin % 4 == 0: the input is read as vec4 along cin;
//   VEC_OUT    cout % 4 == 0: weights and output are read/written as vec4 along cout; otherwise scalar
//              loads with the channel clamped to cout - 1 (the surplus lanes are computed, not written);
//   SHARE_X    (needs VEC_IN, VEC_OUT and subgroups of >= SHARE lanes) a workgroup's lanes all take the
//              same TM pixels, each its own NV vec4 columns of channels, and instead of every lane loading
//              the same input vectors, SHARE lanes of a subgroup load 1/SHARE each and pass them round
//              with subgroupShuffle, as shaders/matmul.wgsl does: on lavapipe a storage load costs a loop
//              over the SIMD lanes, a shuffle one vector permute;
//   PG         (SHARE_X) pixel groups: for layers too narrow to give every lane its own columns, the
//              lanes split into PG groups that take interleaved pixels of a TM * PG pixel tile.
#include "common.wgsl"
#include "conv_register_tile.inc.wgsl"

const TM: u32 = ${TM}u;
// The subgroup-shared variant, for conv_pixel_tile.inc.wgsl.
const SHARED: bool = ${SHARE_X};
#include "conv_pixel_tile.inc.wgsl"

struct Params {
#include "conv2d_fields.inc.wgsl"
}

@group(0) @binding(0) var<uniform> p: Params;
#include "vec4_binding.inc.wgsl" BUF=X BINDING=1 VEC=${VEC_IN} ACCESS=read
#include "vec4_binding.inc.wgsl" BUF=W BINDING=2 VEC=${VEC_OUT} ACCESS=read
#include "vec4_binding.inc.wgsl" BUF=Bias BINDING=3 VEC=${VEC_OUT} ACCESS=read
#include "vec4_binding.inc.wgsl" BUF=Y BINDING=4 VEC=${VEC_OUT} ACCESS=read_write

// Weight row `row` = (i*kw + j)*cin + ci.
#include "vec4_loader.inc.wgsl" FN=loadW BUF=W VEC=${VEC_OUT} C=cout C4=cout4

fn loadBias(col: u32) -> vec4<f32> {
#if ${VEC_OUT}
  return Bias[col];
#else
  let i = clampedLanes(0u, p.cout, col);
  return vec4<f32>(Bias[i.x], Bias[i.y], Bias[i.z], Bias[i.w]);
#endif
}

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>,
#if ${SHARE_X}
        @builtin(subgroup_invocation_id) lane: u32,
#endif
        ) {
#if ${SHARE_X}
  // The grid is a flat list of workgroups (channel tiles of a pixel tile side by side). The only early
  // exit, uniform over the workgroup: subgroupShuffle needs every lane, so lanes past the edge run on
  // clamped indices and only skip their stores.
  let group = flatWorkgroup(wg);
  if (group >= p.pixelTiles * p.colTiles) {
    return;
  }
  let pixelTile = group / p.colTiles;
  let colTile = group % p.colTiles;
  let at = sharedLane(pixelTile, colTile, lid.x, lane);
#else
  let pixelTile = flatIndex(wg, lid, WG);
  if (pixelTile >= p.pixelTiles) {
    return;
  }
  let at = plainLane(pixelTile, wg.wid.z);
#endif
  let cols = clampedColumns(at.col0, p.cout4);

  // Top-left input corner of each loaded pixel (may be negative: padding), and the start of its image.
  var iy0: array<i32, LOADS>;
  var ix0: array<i32, LOADS>;
  var img: array<u32, LOADS>;
  for (var s = 0u; s < LOADS; s++) {
    // Pixels past the end repeat the last one (computed, never written), so every load stays in range.
    let m = min(at.load0 + s * LOAD_STEP, p.pixels - 1u);
    let ox = m % p.ow;
    let oy = (m / p.ow) % p.oh;
    let b = m / (p.ow * p.oh);
    iy0[s] = i32(oy * p.stride) - i32(p.pad);
    ix0[s] = i32(ox * p.stride) - i32(p.pad);
    img[s] = b * p.h;
  }

  var acc: array<array<vec4<f32>, NV>, TM>;
  for (var r = 0u; r < TM; r++) {
    for (var q = 0u; q < NV; q++) {
      acc[r][q] = select(vec4<f32>(0.0), loadBias(cols[q]), p.hasBias != 0u);
    }
  }

  for (var i = 0u; i < p.kh; i++) {
    for (var j = 0u; j < p.kw; j++) {
      // Input offset of each loaded pixel's tap (in scalars), or none where the tap falls in the zero padding.
      var xBase: array<u32, LOADS>;
      var inside: array<bool, LOADS>;
      for (var s = 0u; s < LOADS; s++) {
        let iy = iy0[s] + i32(i);
        let ix = ix0[s] + i32(j);
        inside[s] = iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
        xBase[s] = select(0u, ((img[s] + u32(iy)) * p.w + u32(ix)) * p.cin, inside[s]);
      }
      let row0 = (i * p.kw + j) * p.cin;
#if ${SHARE_X}
      for (var c = 0u; c < p.cin; c += 4u) {
        var mineX: array<vec4<f32>, LOADS>;
        for (var s = 0u; s < LOADS; s++) {
          mineX[s] = select(vec4<f32>(0.0), X[(xBase[s] + c) / 4u], inside[s]);
        }
        var w: array<vec4<f32>, 4u * NV>;
        for (var q = 0u; q < NV; q++) {
          for (var e = 0u; e < 4u; e++) {
            w[4u * q + e] = loadW(row0 + c + e, cols[q]);
          }
        }
        // One flat loop over the lane's pixels (nested ones were left rolled by the driver in matmul).
        // Pixel r * PG + pg of the tile was loaded by lane (r * PG + pg) % SHARE, in its slot
        // (r * PG) / SHARE: the same for every lane, as PG divides SHARE.
        for (var r = 0u; r < TM; r++) {
          let xv = subgroupShuffle(mineX[(r * PG) / SHARE], (r * PG + at.pg) % SHARE);
          for (var q = 0u; q < NV; q++) {
            acc[r][q] = acc[r][q] + xv.x * w[4u * q] + xv.y * w[4u * q + 1u] + xv.z * w[4u * q + 2u] + xv.w * w[4u * q + 3u];
          }
        }
      }
#elif ${VEC_IN}
      for (var c = 0u; c < p.cin; c += 4u) {
        var xv: array<vec4<f32>, TM>;
        for (var r = 0u; r < TM; r++) {
          xv[r] = select(vec4<f32>(0.0), X[(xBase[r] + c) / 4u], inside[r]);
        }
        for (var q = 0u; q < NV; q++) {
          let w0 = loadW(row0 + c, cols[q]);
          let w1 = loadW(row0 + c + 1u, cols[q]);
          let w2 = loadW(row0 + c + 2u, cols[q]);
          let w3 = loadW(row0 + c + 3u, cols[q]);
          for (var r = 0u; r < TM; r++) {
            acc[r][q] = acc[r][q] + xv[r].x * w0 + xv[r].y * w1 + xv[r].z * w2 + xv[r].w * w3;
          }
        }
      }
#else
      for (var c = 0u; c < p.cin; c++) {
        var xs: array<f32, TM>;
        for (var r = 0u; r < TM; r++) {
          xs[r] = select(0.0, X[xBase[r] + c], inside[r]);
        }
        for (var q = 0u; q < NV; q++) {
          let wv = loadW(row0 + c, cols[q]);
          for (var r = 0u; r < TM; r++) {
            acc[r][q] = acc[r][q] + xs[r] * wv;
          }
        }
      }
#endif
    }
  }

  for (var r = 0u; r < TM; r++) {
    let m = at.pixel0 + r * ROW_STEP;
    if (m >= p.pixels) {
      break;
    }
    for (var q = 0u; q < NV; q++) {
      let col = at.col0 + q;
      if (col >= p.cout4) {
        break;
      }
#if ${VEC_OUT}
      Y[m * p.cout4 + col] = acc[r][q];
#else
      let base = m * p.cout + col * 4u;
      for (var e = 0u; e < lanesBelow(p.cout, col); e++) {
        Y[base + e] = acc[r][q][e];
      }
#endif
    }
  }
}
