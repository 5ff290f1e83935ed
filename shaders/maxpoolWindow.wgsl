// The max-pool window scan, shared by the forward and the argmax pass (shaders/maxpool.wgsl) so that the
// backward applies the forward's tie rule. The including shader declares `p: PoolParams` and the input
// `X`.

#include "maxpoolParams.wgsl"

// Flat index into X (NHWC) of the first maximum of window (oy, ox) in channel ch, scanning the window
// in row-major order with a strict `>` so that ties keep the earlier element. Padding acts as -inf:
// out-of-range positions never compete, and every window holds at least one in-range position
// (poolGeometry keeps pad <= k / 2).
fn firstMax(n: u32, oy: u32, ox: u32, ch: u32) -> u32 {
  let y0 = i32(oy * p.stride) - i32(p.pad);
  let x0 = i32(ox * p.stride) - i32(p.pad);
  var best = 0.0;
  var at = 0u;
  var found = false;
  for (var i = 0; i < i32(p.k); i++) {
    let y = y0 + i;
    if (y < 0 || y >= i32(p.h)) {
      continue;
    }
    for (var j = 0; j < i32(p.k); j++) {
      let x = x0 + j;
      if (x < 0 || x >= i32(p.w)) {
        continue;
      }
      let idx = ((n * p.h + u32(y)) * p.w + u32(x)) * p.c + ch;
      let v = X[idx];
      if (!found || v > best) {
        best = v;
        at = idx;
        found = true;
      }
    }
  }
  return at;
}
