// Channel concat (NHWC): one invocation per output element copies it from a or b,
// out[px, j] = a[px, j] for j < ca, else b[px, j - ca].
// Specialised by VEC4 (ca and cb multiples of 4): an element is 4 consecutive channels, one vec4 load
// and store instead of four (on lavapipe each storage access costs a loop over the SIMD lanes).
#include "common.wgsl"

const WG: u32 = ${WG}u;

#include "channels.wgsl"

struct Params {
  // Output elements (Channels).
  size: u32,
  // Elements per pixel of a and of b: ca and cb, or ca / 4 and cb / 4 with VEC4.
  aLen: u32,
  bLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<Channels>;
@group(0) @binding(2) var<storage, read> B: array<Channels>;
@group(0) @binding(3) var<storage, read_write> Out: array<Channels>;

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let outLen = p.aLen + p.bLen;
  let j = i % outLen;
  let px = i / outLen;
  if (j < p.aLen) {
    Out[i] = A[px * p.aLen + j];
  } else {
    Out[i] = B[px * p.bLen + (j - p.aLen)];
  }
}
