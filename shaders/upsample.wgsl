// Nearest upsampling by 2 (NHWC): one invocation per output element copies its source,
// out[n, oy, ox, ch] = x[n, oy / 2, ox / 2, ch].
#include "common.wgsl"

const WG: u32 = ${WG}u;

struct Params {
  // Output elements.
  size: u32,
  h: u32,
  w: u32,
  c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.c;
  let pix = i / p.c;
  let ox = pix % (2u * p.w);
  let rest = pix / (2u * p.w);
  let oy = rest % (2u * p.h);
  let n = rest / (2u * p.h);
  Out[i] = X[((n * p.h + oy / 2u) * p.w + ox / 2u) * p.c + ch];
}
