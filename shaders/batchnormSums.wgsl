// Per-chunk sums for the batch statistics of an NHWC tensor viewed as [rows, c] (rows = n*h*w):
// Out[0, s, ch] = sum over the rows of chunk s of (x - Shift[ch]),
// Out[1, s, ch] = the same sum of (x - Shift[ch])^2.
// Shifting by a value near the mean (first the channel's first row, then the first-pass mean) keeps the
// summands small, so the variance never comes from cancelling two large sums. The host adds the
// partials over s in a fixed order (reduceMiddle): deterministic, no atomics. Neighbouring invocations
// take neighbouring channels, so each row is read contiguously across the workgroup.
// Specialised by VEC4 (c % 4 == 0): an invocation takes 4 consecutive channels with vec4 loads (fewer,
// wider storage accesses, which lavapipe pays per instruction); each channel's sum is the same
// sequence of adds as without it.
#include "batchnorm_chunks.inc.wgsl"

struct Params {
#include "batchnorm_chunk_fields.inc.wgsl"
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read> Shift: array<Channels>;
@group(0) @binding(3) var<storage, read_write> Out: array<Channels>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flatIndex(wg, lid, WG);
  if (t >= p.splits * p.rowLen) {
    return;
  }
  let c = chunkOf(t);
  let shift = Shift[c.ch];  // MUTANT(index): let shift = Shift[0];
  var s1 = Channels(0.0);
  var s2 = Channels(0.0);
  var idx = c.r0 * p.rowLen + c.ch;
  for (var r = c.r0; r < c.r1; r++) {
    let d = X[idx] - shift;
    s1 += d;
    s2 += d * d;  // MUTANT(term): s2 += d;
    idx += p.rowLen;  // MUTANT(stride): idx += 1u;
  }
  storeSums(c, s1, s2);
}
