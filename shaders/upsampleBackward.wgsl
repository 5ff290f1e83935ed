// Backward of nearest upsampling by 2 (NHWC), a gather: one invocation per input element sums the
// 2x2 block of dy it was copied to, dx[n, y, x, ch] = sum over a, b in {0, 1} of dy[n, 2y + a, 2x + b, ch].
#include "common.wgsl"

const WG: u32 = ${WG}u;

struct Params {
  // Input elements.
  size: u32,
  h: u32,
  w: u32,
  c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dY: array<f32>;
@group(0) @binding(2) var<storage, read_write> dX: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.c;
  let pix = i / p.c;
  let x = pix % p.w;
  let rest = pix / p.w;
  let y = rest % p.h;
  let n = rest / p.h;
  let ow = 2u * p.w;
  // dy[n, 2y, 2x, ch], and the same column one output row down.
  let top = ((n * 2u * p.h + 2u * y) * ow + 2u * x) * p.c + ch;  // MUTANT(index): let top = ((n * 2u * p.h + 2u * y) * ow + 2u * x + 1u) * p.c + ch;
  let bottom = top + ow * p.c;  // MUTANT(stride): let bottom = top + p.w * p.c;
  dX[i] = (dY[top] + dY[top + p.c]) + (dY[bottom] + dY[bottom + p.c]);  // MUTANT(term): dX[i] = (dY[top] + dY[top + p.c]) + dY[bottom];
}
