// Per-chunk sums for the batch statistics of an NHWC tensor viewed as [rows, c] (rows = n*h*w):
// Partial[0, s, ch] = sum over the rows of chunk s of (x - Shift[ch]),
// Partial[1, s, ch] = the same sum of (x - Shift[ch])^2.
// Shifting by a value near the mean (first the channel's first row, then the first-pass mean) keeps the
// summands small, so the variance never comes from cancelling two large sums. The host adds the
// partials over s in a fixed order (reduceMiddle): deterministic, no atomics. Neighbouring invocations
// take neighbouring channels, so each row is read contiguously across the workgroup.
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  rows: u32,
  c: u32,
  chunk: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Shift: array<f32>;
@group(0) @binding(3) var<storage, read_write> Partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flatIndex(wid, nwg, lid, WG);
  if (t >= p.splits * p.c) {
    return;
  }
  let ch = t % p.c;
  let s = t / p.c;
  let r0 = s * p.chunk;
  let r1 = min(r0 + p.chunk, p.rows);
  let shift = Shift[ch];
  var s1 = 0.0;
  var s2 = 0.0;
  var idx = r0 * p.c + ch;
  for (var r = r0; r < r1; r++) {
    let d = X[idx] - shift;
    s1 += d;
    s2 += d * d;
    idx += p.c;
  }
  Partial[s * p.c + ch] = s1;
  Partial[(p.splits + s) * p.c + ch] = s2;
}
