// Conv2d forward as an implicit GEMM with workgroup-memory tiles, the classic layout of discrete GPUs
// (shaders/conv2d.wgsl keeps everything in registers, which wins on CPU Vulkan drivers: there workgroup
// memory is ordinary memory behind barriers). M = n*oh*ow output pixels, N = cout, K = kh*kw*cin with
// k = (i*kw + j)*cin + ci, the HWIO weights' row order. Per stage of BK values of k, the workgroup
// stages a BM x BK slab of the (never materialised) im2col input and a BK x BN slab of the weights in
// workgroup memory; each invocation then accumulates TM pixels x NV vec4 columns of channels from it.
// Sums over k run in a fixed order (deterministic).
//
// Needs cin and cout multiples of 4 (vec4 loads of input and weights; the host checks). Specialised by
//   WX, WY   invocations along channels and along pixels (the workgroup is WX x WY);
//   TM, NV   each invocation's pixels and vec4 columns: BM = WY*TM pixels, BN = WX*NV*4 channels;
//   BK       values of k per stage (a multiple of 4).
#include "common.wgsl"
#include "conv_workgroup_tile.inc.wgsl"

const TM: u32 = ${TM}u;
const BK: u32 = ${BK}u;
const BM: u32 = WY * TM;
/** The shared GEMM core's accumulator rows (pixels) and values of k per stage. */
const ROWS: u32 = TM;
const STEPS: u32 = BK;

struct Params {
#include "conv2d_fields.inc.wgsl"
  // kh * kw * cin
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
// The weights, the GEMM's B.
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> Bias: array<vec4<f32>>;
// y.
@group(0) @binding(4) var<storage, read_write> Out: array<vec4<f32>>;

@compute @workgroup_size(WX, WY)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  // A flat list of workgroups (grid1d with groups of 1), the channel tiles of a pixel tile side by
  // side. The early exit is uniform over the workgroup, so every barrier below sees all its lanes.
  let group = flatWorkgroup(wg);
  if (group >= p.pixelTiles * p.colTiles) {
    return;
  }
  let m0 = (group / p.colTiles) * BM;
  let c0 = (group % p.colTiles) * BN4;

  // The pixels this lane stages for every stage (the same ones each time): input corner and image.
  var iy0: array<i32, A_PER>;
  var ix0: array<i32, A_PER>;
  var img: array<u32, A_PER>;
  var valid: array<bool, A_PER>;
  for (var l = 0u; l < A_PER; l++) {
    let e = li + l * THREADS;
    let m = m0 + e / (BK / 4u);
    valid[l] = e < A_LOADS && m < p.pixels;
    let mc = min(m, p.pixels - 1u);
    let ox = mc % p.ow;
    let oy = (mc / p.ow) % p.oh;
    iy0[l] = i32(oy * p.stride) - i32(p.pad);
    ix0[l] = i32(ox * p.stride) - i32(p.pad);
    img[l] = mc / (p.ow * p.oh) * p.h;
  }

  var acc: array<array<vec4<f32>, NV>, TM>;
  for (var q = 0u; q < NV; q++) {
    let col = min(c0 + lid.x + q * WX, p.cout4 - 1u);
    let b = select(vec4<f32>(0.0), Bias[col], p.hasBias != 0u);  // MUTANT(term): let b = Bias[col];
    for (var r = 0u; r < TM; r++) {
      acc[r][q] = b;
    }
  }

  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    for (var l = 0u; l < A_PER; l++) {
      let e = li + l * THREADS;
      if (e < A_LOADS) {
        let kq = (e % (BK / 4u)) * 4u;
        let k = k0 + kq;
        let tap = k / p.cin;
        let iy = iy0[l] + i32(tap / p.kw);
        let ix = ix0[l] + i32(tap % p.kw);  // MUTANT(index): let ix = ix0[l] + i32(tap / p.kw);
        let inside = valid[l] && k < p.k && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
        var v = vec4<f32>(0.0);
        if (inside) {
          v = X[(((img[l] + u32(iy)) * p.w + u32(ix)) * p.cin + k % p.cin) / 4u];
        }
        let mm = e / (BK / 4u);
        As[kq][mm] = v.x;
        As[kq + 1u][mm] = v.y;
        As[kq + 2u][mm] = v.z;
        As[kq + 3u][mm] = v.w;  // MUTANT(index): As[kq + 3u][mm] = v.z;
      }
    }
    stageB(li, k0, p.k, c0);
    workgroupBarrier();
    accumulateStage(&acc, lid);
    workgroupBarrier();
  }

  storeTile(&acc, lid, m0, p.pixels, 0u, c0);
}
