// Top-k mask of each row of `cols` contiguous floats (F.topkMask, hard-negative mining): Mask = 1.0 at
// the k largest values of the row, 0.0 elsewhere; ties at the k-th value go to the lower column index,
// so every row gets exactly k ones. One workgroup per row; no atomics, no subgroups: deterministic.
//
// Floats become u32 keys whose unsigned order is their order (keys() below). A radix select finds T, the
// k-th largest key, one bit at a time from the top: keep the bit when at least k keys are >= the prefix
// with it set (the invariant count(key >= T) >= k holds from T = 0 on, so T ends as the largest such).
// Then keys > T are ones (fewer than k of them), and of the keys == T the first k - count(key > T) in
// index order: each invocation takes a contiguous chunk of the row, and an exclusive prefix sum over the
// invocations of their tie counts says how many ties come before its chunk.
// Specialised by VEC4 (cols % 4 == 0): 4 consecutive floats per load (lavapipe pays per storage access,
// and the select reads the row 34 times), their keys compared as one vec4.
#include "common.wgsl"
#include "channels.wgsl"

// A power of two (the tree sum halves it), at most the device's invocations per workgroup.
const WG: u32 = ${WG}u;
const SIGN: u32 = 0x80000000u;

struct Params {
  rows: u32,
  cols: u32,
  k: u32,
  // Elements (Channels) per row: cols, or cols / 4 with VEC4.
  rowLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read_write> Mask: array<Channels>;

var<workgroup> partial: array<u32, WG>;

#if ${VEC4}
alias Keys = vec4<u32>;
const LANES: u32 = 4u;
// How many of the 4 are true.
fn ones(m: vec4<bool>) -> u32 {
  let c = select(vec4<u32>(0u), vec4<u32>(1u), m);
  return (c.x + c.y) + (c.z + c.w);
}
fn lane(k: Keys, l: u32) -> u32 {
  return k[l];
}
fn setLane(m: ptr<function, Channels>, l: u32, v: f32) {
  (*m)[l] = v;
}
#else
alias Keys = u32;
const LANES: u32 = 1u;
fn ones(m: bool) -> u32 {
  return select(0u, 1u, m);
}
fn lane(k: Keys, l: u32) -> u32 {
  return k;
}
fn setLane(m: ptr<function, Channels>, l: u32, v: f32) {
  *m = v;
}
#endif

// Order-preserving keys: positive floats get the sign bit set (above every negative), negative ones have
// every bit flipped (a larger magnitude, a smaller key). -0 is read as +0: equal values tie by index.
// NaNs land beyond the infinities; the loops below are bounded whatever the keys are.
fn keys(v: Channels) -> Keys {
  var b = bitcast<Keys>(v);
  b = select(b, Keys(0u), b == Keys(SIGN));  // MUTANT(term): b = b;
  return select(b | Keys(SIGN), ~b, (b & Keys(SIGN)) != Keys(0u));  // MUTANT(term): return b | Keys(SIGN);
}

// The sum of `v` over the workgroup, in a fixed tree order (integer, so exact anyway).
fn workgroupSum(lid: u32, v: u32) -> u32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      partial[lid] += partial[lid + s];  // MUTANT(index): partial[lid] += partial[lid + s + 1u];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  // Every invocation has read the total before `partial` is written again.
  workgroupBarrier();
  return total;
}

// The sum of `v` over the invocations before `lid` (Hillis-Steele scan, then minus its own).
fn exclusiveScan(lid: u32, v: u32) -> u32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = 1u; s < WG; s <<= 1u) {
    let before = select(0u, partial[max(lid, s) - s], lid >= s);  // MUTANT(index): let before = select(0u, partial[max(lid, s) - s], lid > s);
    workgroupBarrier();
    partial[lid] += before;
    workgroupBarrier();
  }
  let inclusive = partial[lid];
  workgroupBarrier();
  return inclusive - v;  // MUTANT(term): return inclusive;
}

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) local: vec3<u32>) {
  // One row per workgroup: r is uniform over it, so this return leaves no barrier behind.
  let r = flatWorkgroup(wg);
  if (r >= p.rows) {
    return;
  }
  let lid = local.x;
  let base = r * p.rowLen;  // MUTANT(stride): let base = r * p.k;

  var t = 0u;
  for (var bit = SIGN; bit != 0u; bit >>= 1u) {
    let candidate = t | bit;
    var n = 0u;
    // Neighbouring invocations read neighbouring elements.
    for (var i = lid; i < p.rowLen; i += WG) {  // MUTANT(stride): for (var i = lid; i < p.rowLen; i += WG + 1u) {
      n += ones(keys(X[base + i]) >= Keys(candidate));
    }
    if (workgroupSum(lid, n) >= p.k) {  // MUTANT(term): if (workgroupSum(lid, n) >= p.k - 1u) {
      t = candidate;
    }
  }

  // This invocation's chunk [lo, hi) of the row's elements, in index order.
  let chunk = (p.rowLen + WG - 1u) / WG;
  let lo = min(lid * chunk, p.rowLen);
  let hi = min(lo + chunk, p.rowLen);
  var above = 0u;
  var ties = 0u;
  for (var i = lo; i < hi; i++) {
    let kv = keys(X[base + i]);
    above += ones(kv > Keys(t));
    ties += ones(kv == Keys(t));
  }
  // Ties taken before this chunk, and how many the row takes in all (count(key > T) < k <= count(key >= T)).
  var taken = exclusiveScan(lid, ties);
  let wanted = p.k - workgroupSum(lid, above);  // MUTANT(term): let wanted = p.k;
  for (var i = lo; i < hi; i++) {
    let kv = keys(X[base + i]);
    var m = Channels(0.0);
    for (var l = 0u; l < LANES; l++) {
      let kl = lane(kv, l);
      var one = kl > t;
      if (kl == t) {
        one = taken < wanted;  // MUTANT(index): one = taken <= wanted;
        taken += 1u;
      }
      setLane(&m, l, select(0.0, 1.0, one));
    }
    Mask[base + i] = m;
  }
}
