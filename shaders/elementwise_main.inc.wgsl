// The entry point of one-invocation-per-element kernels, included by them (binary, concat, upsample, ...).
// It calls the includer's `fn element(i: u32)` for every i below p.size.
@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i < p.size) {
    element(i);
  }
}
