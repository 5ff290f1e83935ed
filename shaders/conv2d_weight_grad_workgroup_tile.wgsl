// Weight gradient of conv2d with workgroup-memory tiles, the discrete-GPU counterpart of
// shaders/conv2d_weight_grad.wgsl: dW[k, co] = sum over output pixels m of im2col(x)[m, k] * dy[m, co],
// k = (i*kw + j)*cin + ci (the HWIO weights' row order). The pixel sum is split by output rows into
// `splits` ranges, each writing one partial sum that the host adds in a second pass (deterministic, no
// atomics). Per stage of BP pixels the workgroup stages a BP x BMK slab of im2col(x) and a BP x BN
// slab of dy in workgroup memory; each invocation then accumulates TK weight rows x NV vec4 columns.
//
// Needs cin and cout multiples of 4 (the host checks). Specialised by
//   WX, WY   invocations along output channels and along weight rows (the workgroup is WX x WY);
//   TK, NV   each invocation's weight rows and vec4 columns: BMK = WY*TK rows (a multiple of 4),
//            BN = WX*NV*4 channels;
//   BP       pixels per stage.
#include "common.wgsl"
#include "conv_workgroup_tile.inc.wgsl"

const TK: u32 = ${TK}u;
const BP: u32 = ${BP}u;
const BMK: u32 = WY * TK;
/** The shared GEMM core's accumulator rows (weight rows) and pixels per stage. */
const ROWS: u32 = TK;
const STEPS: u32 = BP;

struct Params {
#include "conv_geometry_fields.wgsl"
  // n * oh * ow
  pixels: u32,
  // output pixels per split (whole rows: rowsPerSplit * ow)
  pixelsPerSplit: u32,
  splits: u32,
  // cout / 4
  cout4: u32,
  // ceil(k / BMK), ceil(cout4 / BN4)
  rowTiles: u32,
  colTiles: u32,
  // kh * kw * cin
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
// dy, the GEMM's B.
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
// The partial sums, [split, k, cout4].
@group(0) @binding(3) var<storage, read_write> Out: array<vec4<f32>>;

@compute @workgroup_size(WX, WY)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  // A flat list of workgroups: (split, row tile, column tile), column tiles side by side. The early
  // exit is uniform over the workgroup, so every barrier below sees all its lanes.
  let group = flatWorkgroup(wg);
  if (group >= p.splits * p.rowTiles * p.colTiles) {
    return;
  }
  let colTile = group % p.colTiles;
  let rowTile = (group / p.colTiles) % p.rowTiles;
  let split = group / (p.colTiles * p.rowTiles);
  let k0 = rowTile * BMK;
  let c0 = colTile * BN4;
  let mBegin = split * p.pixelsPerSplit;
  let mEnd = min(mBegin + p.pixelsPerSplit, p.pixels);

  // The weight rows this lane stages for every stage (the same ones each time): tap offset and channel.
  var di: array<i32, A_PER>;
  var dj: array<i32, A_PER>;
  var ci: array<u32, A_PER>;
  var rowOk: array<bool, A_PER>;
  for (var l = 0u; l < A_PER; l++) {
    let e = li + l * THREADS;
    let k = k0 + (e % (BMK / 4u)) * 4u;
    rowOk[l] = e < A_LOADS && k < p.k;
    let tap = min(k, p.k - 1u) / p.cin;
    di[l] = i32(tap / p.kw) - i32(p.pad);
    dj[l] = i32(tap % p.kw) - i32(p.pad);  // MUTANT(index): dj[l] = i32(tap / p.kw) - i32(p.pad);
    ci[l] = k % p.cin;
  }

  var acc: array<array<vec4<f32>, NV>, TK>;
  for (var m0 = mBegin; m0 < mEnd; m0 += BP) {
    for (var l = 0u; l < A_PER; l++) {
      let e = li + l * THREADS;
      if (e < A_LOADS) {
        let pp = e / (BMK / 4u);
        let kq = (e % (BMK / 4u)) * 4u;
        let m = m0 + pp;
        let mc = min(m, p.pixels - 1u);
        let ox = mc % p.ow;
        let oy = (mc / p.ow) % p.oh;
        let img = mc / (p.ow * p.oh) * p.h;
        let iy = i32(oy * p.stride) + di[l];
        let ix = i32(ox * p.stride) + dj[l];
        let inside = rowOk[l] && m < mEnd && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);  // MUTANT(term): let inside = rowOk[l] && m < mEnd && iy >= 0 && ix >= 0 && ix < i32(p.w);
        var v = vec4<f32>(0.0);
        if (inside) {
          v = X[(((img + u32(iy)) * p.w + u32(ix)) * p.cin + ci[l]) / 4u];
        }
        As[pp][kq] = v.x;
        As[pp][kq + 1u] = v.y;
        As[pp][kq + 2u] = v.z;
        As[pp][kq + 3u] = v.w;
      }
    }
    stageB(li, m0, mEnd, c0);
    workgroupBarrier();
    accumulateStage(&acc, lid);
    workgroupBarrier();
  }

  // Partials[split, k, co]: the split's rows come after the earlier splits' p.k rows each.
  storeTile(&acc, lid, k0, p.k, split * p.k, c0);
}
