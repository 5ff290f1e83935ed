// Channel concat (NHWC): one invocation per output element copies it from a or b,
// out[px, j] = a[px, j] for j < ca, else b[px, j - ca].
#include "common.wgsl"

const WG: u32 = ${WG}u;

struct Params {
  // Output elements.
  size: u32,
  ca: u32,
  cb: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let cOut = p.ca + p.cb;
  let j = i % cOut;
  let px = i / cOut;
  if (j < p.ca) {
    Out[i] = A[px * p.ca + j];
  } else {
    Out[i] = B[px * p.cb + (j - p.ca)];
  }
}
