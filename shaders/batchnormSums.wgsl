// Per-chunk sums for the batch statistics of an NHWC tensor viewed as [rows, c] (rows = n*h*w):
// Partial[0, s, ch] = sum over the rows of chunk s of (x - Shift[ch]),
// Partial[1, s, ch] = the same sum of (x - Shift[ch])^2.
// Shifting by a value near the mean (first the channel's first row, then the first-pass mean) keeps the
// summands small, so the variance never comes from cancelling two large sums. The host adds the
// partials over s in a fixed order (reduceMiddle): deterministic, no atomics. Neighbouring invocations
// take neighbouring channels, so each row is read contiguously across the workgroup.
// Specialised by VEC4 (c % 4 == 0): an invocation takes 4 consecutive channels with vec4 loads (fewer,
// wider storage accesses, which lavapipe pays per instruction); each channel's sum is the same
// sequence of adds as without it.
#include "common.wgsl"

const WG: u32 = 256u;

#include "channels.wgsl"

struct Params {
  rows: u32,
  // Elements (Channels) per row: c, or c / 4 with VEC4.
  rowLen: u32,
  chunk: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read> Shift: array<Channels>;
@group(0) @binding(3) var<storage, read_write> Partial: array<Channels>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flatIndex(wg, lid, WG);
  if (t >= p.splits * p.rowLen) {
    return;
  }
  let ch = t % p.rowLen;
  let s = t / p.rowLen;
  let r0 = s * p.chunk;
  let r1 = min(r0 + p.chunk, p.rows);
  let shift = Shift[ch];  // MUTANT(index): let shift = Shift[0];
  var s1 = Channels(0.0);
  var s2 = Channels(0.0);
  var idx = r0 * p.rowLen + ch;
  for (var r = r0; r < r1; r++) {
    let d = X[idx] - shift;
    s1 += d;
    s2 += d * d;  // MUTANT(term): s2 += d;
    idx += p.rowLen;  // MUTANT(stride): idx += 1u;
  }
  Partial[s * p.rowLen + ch] = s1;
  Partial[(p.splits + s) * p.rowLen + ch] = s2;  // MUTANT(stride): Partial[(p.rowLen + ch) * p.splits + s] = s2;
}
