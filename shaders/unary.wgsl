// out = EXPR(x, alpha), elementwise. Specialised by EXPR; alpha is a uniform (e.g. the factor of scale).
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  size: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

fn op(x: f32, alpha: f32) -> f32 {
  return ${EXPR};
}

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i < p.size) {
    Out[i] = op(X[i], p.alpha);
  }
}
