// out = EXPR(a, b), elementwise, with NumPy broadcasting through per-operand strides (0 on broadcast
// axes). Specialised by EXPR (the operation) and BROADCAST (false: same shapes, no index arithmetic).
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  size: u32,
  rank: u32,
  _pad0: u32,
  _pad1: u32,
  // Row-major strides of the output and of each operand, 6 dimensions in two vec4s each.
  outStrides: array<vec4<u32>, 2>,
  aStrides: array<vec4<u32>, 2>,
  bStrides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;

fn op(a: f32, b: f32) -> f32 {
  return ${EXPR};
}

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
#if ${BROADCAST}
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = 0u; d < p.rank; d++) {
    let os = p.outStrides[d / 4u][d % 4u];
    let q = rem / os;
    rem -= q * os;
    ia += q * p.aStrides[d / 4u][d % 4u];
    ib += q * p.bStrides[d / 4u][d % 4u];
  }
  Out[i] = op(A[ia], B[ib]);
#else
  Out[i] = op(A[i], B[i]);
#endif
}
