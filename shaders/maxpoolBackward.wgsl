// Max-pool backward as a gather (no atomics, deterministic): one invocation per input element sums dy
// of every window whose first maximum it is, recomputing each window's argmax from X with the
// forward's own scan (maxpoolWindow.wgsl), so no index tensor is kept.
#include "common.wgsl"
#include "maxpoolWindow.wgsl"

const WG: u32 = ${WG}u;

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.c;
  let pix = i / p.c;
  let x = i32(pix % p.w);
  let rest = pix / p.w;
  let y = i32(rest % p.h);
  let n = rest / p.h;
  let k = i32(p.k);
  let s = i32(p.stride);
  let pad = i32(p.pad);
  // Windows holding row y: oy * s - pad <= y < oy * s - pad + k. Integer division truncates toward
  // zero, which can only raise a negative lower bound, and max(0, .) clamps it anyway.
  let oyLo = max(0, (y + pad - k + s) / s);  // MUTANT(index): let oyLo = max(0, (y + pad - k + s) / s + 1);
  let oyHi = min(i32(p.oh) - 1, (y + pad) / s);
  let oxLo = max(0, (x + pad - k + s) / s);
  let oxHi = min(i32(p.ow) - 1, (x + pad) / s);
  var acc = 0.0;
  for (var oy = oyLo; oy <= oyHi; oy++) {
    for (var ox = oxLo; ox <= oxHi; ox++) {
      if (firstMax(n, u32(oy), u32(ox), ch) == i) {
        let o = ((n * p.oh + u32(oy)) * p.ow + u32(ox)) * p.c + ch;  // MUTANT(stride): let o = ((n * p.ow + u32(oy)) * p.oh + u32(ox)) * p.c + ch;
        acc += dY[o];  // MUTANT(term): acc = dY[o];
      }
    }
  }
  dX[i] = acc;
}
