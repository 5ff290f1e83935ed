// Backward of channel concat (NHWC): a gather of one channel slice of dy, run once for da and once for
// db. One invocation per element of the slice: out[px, j] = dy[px, offset + j], j < sliceLen.
// Specialised by VEC4 (ca and cb multiples of 4, so every slice starts on a vec4): an element is 4
// consecutive channels, one vec4 load and store instead of four (each a loop over lavapipe's SIMD lanes).
#include "common.wgsl"

const WG: u32 = ${WG}u;

#include "channels.wgsl"

struct Params {
  // Elements (Channels) of the slice.
  size: u32,
  // Elements per pixel of the slice and of dy, and the slice's first element in a pixel of dy: in
  // channels, or in fours of them with VEC4.
  sliceLen: u32,
  dyLen: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dY: array<Channels>;
@group(0) @binding(2) var<storage, read_write> Out: array<Channels>;

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let j = i % p.sliceLen;  // MUTANT(index): let j = (i + 1u) % p.sliceLen;
  let px = i / p.sliceLen;
  let base = px * p.dyLen;  // MUTANT(stride): let base = px * p.sliceLen;
  Out[i] = dY[base + p.offset + j];  // MUTANT(term): Out[i] = dY[base + j];
}
