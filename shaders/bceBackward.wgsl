// Backward of the weighted BCE with logits, one invocation per logit j of sample i = j / perSample:
// dX[j] = dloss * w_i * (sigmoid(x_j) - t_j) / (perSample * sum_i w_i). dloss and sum_i w_i are read
// from 1-element buffers, so nothing comes back to the host.
#include "bce_inputs.inc.wgsl"

struct Params {
  size: u32,
  n: u32,
  perSample: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> DLoss: array<f32>;
@group(0) @binding(5) var<storage, read> SumW: array<f32>;
@group(0) @binding(6) var<storage, read_write> dX: array<f32>;

// exp of a non-positive number only: no overflow, and exactly 0 or 1 far out, never NaN.
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

#include "elementwise_main.inc.wgsl"

fn element(j: u32) {
  let i = j / p.perSample;  // MUTANT(stride): let i = j / p.n;
  let x = X[j];  // MUTANT(index): let x = X[i];
  let t = T[j];  // MUTANT(index): let t = T[min(j + 1u, p.size - 1u)];
  let coef = DLoss[0] * W[i] / (f32(p.perSample) * SumW[0]);  // MUTANT(term): let coef = DLoss[0] * W[i] / SumW[0];
  dX[j] = coef * (sigmoid(x) - t);  // MUTANT(term): dX[j] = coef * sigmoid(x);
}
