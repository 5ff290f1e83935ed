// out[i] = value.
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  size: u32,
  value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i < p.size) {
    Out[i] = p.value;
  }
}
