// Nearest upsampling by 2 (NHWC): one invocation per output element copies its source,
// out[n, oy, ox, ch] = x[n, oy / 2, ox / 2, ch].
// Specialised by VEC4 (c % 4 == 0): an element is 4 consecutive channels, one vec4 load and store
// instead of four (on lavapipe each storage access costs a loop over the SIMD lanes). A copy either way.
#include "common.wgsl"

const WG: u32 = ${WG}u;

#include "channels.wgsl"

struct Params {
  // Output elements (Channels).
  size: u32,
  h: u32,
  w: u32,
  // Elements per pixel: c, or c / 4 with VEC4.
  pixelLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read_write> Out: array<Channels>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.pixelLen;
  let pix = i / p.pixelLen;
  let ox = pix % (2u * p.w);
  let rest = pix / (2u * p.w);
  let oy = rest % (2u * p.h);
  let n = rest / (2u * p.h);
  Out[i] = X[((n * p.h + oy / 2u) * p.w + ox / 2u) * p.pixelLen + ch];
}
