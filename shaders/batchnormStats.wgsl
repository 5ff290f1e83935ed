// Per-channel batch statistics from the sums of batchnormSums.wgsl, taken about Shift:
// S1 = Sums[ch] = sum (x - shift), S2 = Sums[c + ch] = sum (x - shift)^2, over m = rows values.
// shiftedMean: Mean = shift + S1 / m (the first pass; it becomes the shift of the second).
// finalize: mean = shift + S1 / m and the biased variance (S2 - S1^2 / m) / m, the corrected two-pass
// formula (S1 is tiny once the shift is the first-pass mean); invStd = 1 / sqrt(var + eps); and the
// running statistics updated in place as PyTorch does, with the unbiased variance var * m / (m - 1).
// Specialised by VEC4 (c % 4 == 0): an invocation takes 4 consecutive channels, the same arithmetic
// per component.
#include "common.wgsl"

const WG: u32 = 64u;

#include "channels.wgsl"

struct Params {
  rows: u32,
  // Elements (Channels) per row: c, or c / 4 with VEC4.
  rowLen: u32,
  eps: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Shift: array<Channels>;
@group(0) @binding(2) var<storage, read> Sums: array<Channels>;
@group(0) @binding(3) var<storage, read_write> Mean: array<Channels>;
@group(0) @binding(4) var<storage, read_write> InvStd: array<Channels>;
@group(0) @binding(5) var<storage, read_write> RunningMean: array<Channels>;
@group(0) @binding(6) var<storage, read_write> RunningVar: array<Channels>;

@compute @workgroup_size(WG)
fn shiftedMean(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let ch = flatIndex(wg, lid, WG);
  if (ch >= p.rowLen) {
    return;
  }
  Mean[ch] = Shift[ch] + Sums[ch] / f32(p.rows);  // MUTANT(index): Mean[ch] = Shift[0] + Sums[ch] / f32(p.rows);
}

@compute @workgroup_size(WG)
fn finalize(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let ch = flatIndex(wg, lid, WG);
  if (ch >= p.rowLen) {
    return;
  }
  let m = f32(p.rows);
  let s1 = Sums[ch];
  let s2 = Sums[p.rowLen + ch];  // MUTANT(index): let s2 = Sums[ch];
  let mean = Shift[ch] + s1 / m;
  // Rounding could leave a tiny negative value for a constant channel.
  let variance = max((s2 - s1 * s1 / m) / m, Channels(0.0));
  Mean[ch] = mean;
  InvStd[ch] = inverseSqrt(variance + p.eps);
  let keep = 1.0 - p.momentum;
  RunningMean[ch] = keep * RunningMean[ch] + p.momentum * mean;
  RunningVar[ch] = keep * RunningVar[ch] + p.momentum * (variance * (m / (m - 1.0)));  // MUTANT(term): RunningVar[ch] = keep * RunningVar[ch] + p.momentum * variance;
}
