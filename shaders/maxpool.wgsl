// Max-pool forward (NHWC): one invocation per output element (n, oy, ox, ch), channels fastest so
// neighbouring invocations read neighbouring addresses. Specialised by ARGMAX: write the flat input
// index of each window's first maximum instead of its value (the first pass of the backward).
#include "common.wgsl"
#include "maxpoolWindow.wgsl"

const WG: u32 = ${WG}u;

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
#if ${ARGMAX}
@group(0) @binding(2) var<storage, read_write> Out: array<u32>;
#else
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.c;
  let pix = i / p.c;
  let ox = pix % p.ow;
  let rest = pix / p.ow;
  let oy = rest % p.oh;
  let n = rest / p.oh;
#if ${ARGMAX}
  Out[i] = firstMax(n, oy, ox, ch);  // MUTANT(index): Out[i] = firstMax(n, ox, oy, ch);
#else
  Out[i] = X[firstMax(n, oy, ox, ch)];
#endif
}
