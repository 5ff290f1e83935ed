// Constants and uniforms of upsampling, included by upsample.wgsl and upsampleBackward.wgsl.
// Packed by dispatchResample in src/kernels/upsample.ts.
#include "common.wgsl"

const WG: u32 = ${WG}u;

#include "channels.wgsl"

struct Params {
  // Invocations: elements (Channels) of the output (y forward, dx backward).
  size: u32,
  // The height and width of x (dy has twice them).
  h: u32,
  w: u32,
  // Elements per pixel: c, or c / 4 with VEC4.
  pixelLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
