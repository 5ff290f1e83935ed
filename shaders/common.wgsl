// Shared helpers, pulled in with `#include "common.wgsl"`.

// Flat invocation index over a 2-D grid of 1-D workgroups (grid1d in src/gpu/gpu.ts): dispatches
// are limited to 65535 workgroups per dimension, so large tensors spread over y as well.
fn flatIndex(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>, groupSize: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * groupSize + lid.x;
}
