// Constants and uniforms of the L2 normalisation, included by l2normalize.wgsl and its backward.
#include "common.wgsl"
#include "channels.wgsl"

const WG: u32 = ${WG}u;

struct Params {
  rows: u32,
  // Channels per row: dim, or dim / 4 with VEC4.
  rowLen: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
