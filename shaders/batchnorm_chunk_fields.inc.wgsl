// Params fields of the per-chunk sums, included in batchnormSums.wgsl's and batchnormBackward.wgsl's.
// Packed first, in this order, by src/kernels/batchnorm.ts.
  rows: u32,
  // Elements (Channels) per row: c, or c / 4 with VEC4.
  rowLen: u32,
  chunk: u32,
  splits: u32,
