// Max-pool forward (NHWC): one invocation per output element (n, oy, ox, ch), channels fastest so
// neighbouring invocations read neighbouring addresses.
#include "common.wgsl"
#include "maxpoolWindow.wgsl"

const WG: u32 = ${WG}u;

@group(0) @binding(0) var<uniform> p: PoolParams;
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
  let ox = pix % p.ow;
  let rest = pix / p.ow;
  let oy = rest % p.oh;
  let n = rest / p.oh;
  Out[i] = X[firstMax(n, oy, ox, ch)];
}
