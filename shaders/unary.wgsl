// out = EXPR(x, alpha), elementwise. Specialised by EXPR; alpha is a uniform (e.g. the factor of scale).
#include "scalar_params.inc.wgsl"

@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

fn op(x: f32, alpha: f32) -> f32 {
  return ${EXPR};
}

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  Out[i] = op(X[i], p.value);
}
