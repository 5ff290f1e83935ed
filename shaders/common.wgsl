// Shared helpers, pulled in with `#include "common.wgsl"`.

// Which workgroup of the grid an invocation is in: builtins uniform over the workgroup (as barriers and
// subgroup operations need), taken by every entry point as one parameter.
struct Workgroup {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
}

// Flat workgroup index over a 2-D grid (grid1d in src/gpu/gpu.ts): dispatches are limited to 65535
// workgroups per dimension, so large tensors spread over y as well.
fn flatWorkgroup(wg: Workgroup) -> u32 {
  return wg.wid.y * wg.nwg.x + wg.wid.x;
}

// Flat invocation index over a 2-D grid of 1-D workgroups of groupSize invocations.
fn flatIndex(wg: Workgroup, lid: vec3<u32>, groupSize: u32) -> u32 {
  return flatWorkgroup(wg) * groupSize + lid.x;
}

// Element i of an NHWC tensor of h x w pixels of c elements each: its image, row, column and element.
struct Nhwc {
  n: u32,
  y: u32,
  x: u32,
  ch: u32,
}

fn nhwcAt(i: u32, h: u32, w: u32, c: u32) -> Nhwc {
  let pix = i / c;
  let rest = pix / w;
  return Nhwc(rest / h, rest % h, pix % w, i % c);
}
