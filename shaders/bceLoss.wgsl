// Forward of the weighted BCE, last step: loss = (sum_i w_i sum_p bce) / (perSample * sum_i w_i), from
// the two totals the deterministic reduction left. One invocation: it divides two numbers.
struct Params {
  perSample: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Total: array<f32>;
@group(0) @binding(2) var<storage, read> SumW: array<f32>;
@group(0) @binding(3) var<storage, read_write> Loss: array<f32>;

@compute @workgroup_size(1)
fn main() {
  Loss[0] = Total[0] / (f32(p.perSample) * SumW[0]);
}
