// Sum over the middle axis of a tensor viewed as [outer, reduce, inner], in `splits` independent chunks:
// Out[o, s, i] = sum over r in chunk s of X[o, r, i]. The host runs it again over the splits until one
// is left, so every sum is a fixed sequence of adds: deterministic, no atomics. Neighbouring invocations
// take neighbouring `i`, so the loads of a chunk are contiguous across the workgroup.
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  outer: u32,
  reduce: u32,
  inner: u32,
  chunk: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flatIndex(wg, lid, WG);
  if (t >= p.outer * p.splits * p.inner) {
    return;
  }
  let i = t % p.inner;
  let s = (t / p.inner) % p.splits;  // MUTANT(index): let s = (t / p.inner) % (p.splits + 1u);
  let o = t / (p.inner * p.splits);
  let r0 = s * p.chunk;
  let r1 = min(r0 + p.chunk, p.reduce);
  var acc = 0.0;
  var idx = (o * p.reduce + r0) * p.inner + i;  // MUTANT(term): var idx = (o * p.reduce) * p.inner + i;
  for (var r = r0; r < r1; r++) {
    acc += X[idx];
    idx += p.inner;  // MUTANT(stride): idx += p.splits;
  }
  Out[t] = acc;
}
