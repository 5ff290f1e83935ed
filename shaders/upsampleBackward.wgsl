// Backward of nearest upsampling by 2 (NHWC), a gather: one invocation per input element sums the
// 2x2 block of dy it was copied to, dx[n, y, x, ch] = sum over a, b in {0, 1} of dy[n, 2y + a, 2x + b, ch].
// Specialised by VEC4 (c % 4 == 0): an element is 4 consecutive channels (fewer storage accesses, each
// a loop over the SIMD lanes on lavapipe); the sums are per component, in the same order.
#include "common.wgsl"

const WG: u32 = ${WG}u;

#include "channels.wgsl"

struct Params {
  // Input elements (Channels).
  size: u32,
  h: u32,
  w: u32,
  // Elements per pixel: c, or c / 4 with VEC4.
  pixelLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dY: array<Channels>;
@group(0) @binding(2) var<storage, read_write> dX: array<Channels>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.pixelLen;
  let pix = i / p.pixelLen;
  let x = pix % p.w;
  let rest = pix / p.w;
  let y = rest % p.h;
  let n = rest / p.h;
  let ow = 2u * p.w;
  // dy[n, 2y, 2x, ch], and the same column one output row down.
  let top = ((n * 2u * p.h + 2u * y) * ow + 2u * x) * p.pixelLen + ch;  // MUTANT(index): let top = ((n * 2u * p.h + 2u * y) * ow + 2u * x + 1u) * p.pixelLen + ch;
  let bottom = top + ow * p.pixelLen;  // MUTANT(stride): let bottom = top + p.w * p.pixelLen;
  dX[i] = (dY[top] + dY[top + p.pixelLen]) + (dY[bottom] + dY[bottom + p.pixelLen]);  // MUTANT(term): dX[i] = (dY[top] + dY[top + p.pixelLen]) + dY[bottom];
}
