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
