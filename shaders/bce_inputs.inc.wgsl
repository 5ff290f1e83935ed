// Workgroup size and inputs (bindings 1 to 3) of the BCE, included by bce.wgsl and bceBackward.wgsl.
#include "common.wgsl"

const WG: u32 = 256u;

// Logits, targets (n * perSample each) and the per-sample weights.
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
