// Backward of channel concat (NHWC): a gather of one channel slice of dy, run once for da and once for
// db. One invocation per element of the slice: out[px, j] = dy[px, offset + j], j < cOut.
#include "common.wgsl"

const WG: u32 = ${WG}u;

struct Params {
  // Elements of the slice.
  size: u32,
  // Channels of the slice, of dy, and the slice's first channel in dy.
  cOut: u32,
  cTotal: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dY: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let j = i % p.cOut;  // MUTANT(index): let j = (i + 1u) % p.cOut;
  let px = i / p.cOut;
  let base = px * p.cTotal;  // MUTANT(stride): let base = px * p.cOut;
  Out[i] = dY[base + p.offset + j];  // MUTANT(term): Out[i] = dY[base + j];
}
