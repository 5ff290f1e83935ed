// Max-pool geometry, shared by shaders/maxpool.wgsl (through maxpoolWindow.wgsl) and
// shaders/maxpoolBackward.wgsl.

struct PoolParams {
  // Invocations of the dispatch: output elements (forward) or input elements (backward).
  size: u32,
  n: u32,
  h: u32,
  w: u32,
  c: u32,
  k: u32,
  stride: u32,
  pad: u32,
  oh: u32,
  ow: u32,
}
