// Workgroup size and uniforms (size floats, one scalar), included by fill.wgsl and unary.wgsl.
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  size: u32,
  // fill's value, unary's alpha (e.g. the factor of scale).
  value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
