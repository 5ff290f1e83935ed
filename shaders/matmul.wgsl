#if ${SHARE_A}
enable subgroups;
#endif
// C[m, n] = op(A) op(B), register-tiled: each invocation computes a TM x TN block of C in vec4
// accumulators and uses no workgroup memory (on CPU Vulkan drivers the caches do the tiling; barriers
// and shared-memory tiles ran 10x slower). k advances in chunks of 4, then a tail of k % 4 single steps.
//
// Specialised by TM, TN (register tile, multiples of 4), WG_X, WG_Y (workgroup shape), TRANS_A (A stored
// [k, m]), TRANS_B (B stored [n, k]), VEC4 (buffers read as vec4: the contiguous axis of each operand,
// and n, are multiples of 4) and SHARE_A (below). Any m, n, k: rows and columns past the edge load
// clamped indices (real data, never out of bounds) and are not stored.
//
// SHARE_A: a workgroup is one row of invocations (WG_Y = 1) that all need the same TM rows of A, so
// instead of every lane loading them, SHARE lanes of a subgroup load 1/SHARE each and pass them around
// with subgroupShuffle. On lavapipe a storage load costs a loop over the SIMD lanes while a shuffle is
// one vector permute: this makes the kernel 2-3x faster there. Needs subgroups of >= SHARE lanes.
#include "common.wgsl"

const TM: u32 = ${TM}u;
const TN: u32 = ${TN}u;
const TN4: u32 = TN / 4u;
const WG_X: u32 = ${WG_X}u;
const WG_Y: u32 = ${WG_Y}u;
const TRANS_A: bool = ${TRANS_A};
const TRANS_B: bool = ${TRANS_B};
/** Lanes that share one A tile; TM is a multiple of it when SHARE_A. */
// Lanes a subgroup shuffle shares among: SHARE of src/gpu/subgroups.ts, the one definition.
const SHARE: u32 = ${SHARE}u;
/** vec4 registers of A each lane loads when shared: the TM x 4 chunk over SHARE lanes. */
const AQ: u32 = max(TM / SHARE, 1u);

struct Params {
  m: u32,
  n: u32,
  k: u32,
  // Workgroups along n, and in all: the grid is a flat list of workgroups, spread over x and y by grid1d.
  colGroups: u32,
  groups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC4}
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4<f32>>;

fn a1(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }
fn b1(i: u32) -> f32 { return B[i >> 2u][i & 3u]; }
// Four elements at scalar indices i0..i3; here they are consecutive and i0 is 4-aligned.
fn a4(i: vec4<u32>) -> vec4<f32> { return A[i.x >> 2u]; }
fn b4(i: vec4<u32>) -> vec4<f32> { return B[i.x >> 2u]; }
#else
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

fn a1(i: u32) -> f32 { return A[i]; }
fn b1(i: u32) -> f32 { return B[i]; }
fn a4(i: vec4<u32>) -> vec4<f32> { return vec4(A[i.x], A[i.y], A[i.z], A[i.w]); }
fn b4(i: vec4<u32>) -> vec4<f32> { return vec4(B[i.x], B[i.y], B[i.z], B[i.w]); }
#endif

// Offsets of four consecutive elements.
const CONSECUTIVE = vec4(0u, 1u, 2u, 3u);

@compute @workgroup_size(WG_X, WG_Y)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>,
#if ${SHARE_A}
        @builtin(subgroup_invocation_id) lane: u32,
#endif
        ) {
  let group = flatWorkgroup(wg);
  // The only early exit, and uniform over the workgroup: invocations past the edge of C keep running on
  // clamped indices (subgroupShuffle needs every lane) and only skip their stores.
  if (group >= p.groups) {
    return;
  }
  let m = p.m;
  let n = p.n;
  let k = p.k;
  let row0 = ((group / p.colGroups) * WG_Y + lid.y) * TM;
  let col0 = ((group % p.colGroups) * WG_X + lid.x) * TN;

  // A(r, kk) is at aIdx[r] + kk * aStep, B(kk, c) at bIdx[c] + kk * bStep; rows and columns past the
  // edge are clamped to the last one.
  let aStep = select(1u, m, TRANS_A);
  let bStep = select(n, 1u, TRANS_B);
  var aIdx: array<u32, TM>;
  for (var r = 0u; r < TM; r++) {
    let row = min(row0 + r, m - 1u);
    aIdx[r] = select(row * k, row, TRANS_A);
  }
  var bIdx: array<u32, TN>;
  for (var c = 0u; c < TN; c++) {
    let col = min(col0 + c, n - 1u);
    bIdx[c] = select(col, col * k, TRANS_B);
  }

#if ${SHARE_A}
  // This lane's share of each TM x 4 chunk of A: vec4 number v = q * SHARE + mine, element i at
  // shareIdx[q][i] + k0 * aStep. Along k (A(row v, k0 .. k0 + 3)), or for a transposed A along m
  // (rows 4g .. 4g + 3 of A(., k0 + kk) with v = kk * TM / 4 + g).
  let mine = lane % SHARE;
  var shareIdx: array<vec4<u32>, AQ>;
  for (var q = 0u; q < AQ; q++) {
    let v = q * SHARE + mine;
    if (TRANS_A) {
      let rows = min(vec4(row0 + 4u * (v % (TM / 4u))) + CONSECUTIVE, vec4(m - 1u));
      shareIdx[q] = vec4((v / (TM / 4u)) * m) + rows;
    } else {
      shareIdx[q] = vec4(min(row0 + v, m - 1u) * k) + CONSECUTIVE;
    }
  }
#endif

  var acc: array<vec4<f32>, TM * TN4>;
  let k4 = k & ~3u;
  for (var k0 = 0u; k0 < k4; k0 += 4u) {
    // a[r] = A(r, k0 .. k0 + 3); b[kk * TN4 + j] = B(k0 + kk, 4j .. 4j + 3).
    var a: array<vec4<f32>, TM>;
    var b: array<vec4<f32>, 4u * TN4>;
#if ${SHARE_A}
    var mineA: array<vec4<f32>, AQ>;
    for (var q = 0u; q < AQ; q++) {
      mineA[q] = a4(shareIdx[q] + vec4(k0 * aStep));
    }
    // One flat loop over the TM vec4s of the chunk: nested ones were left rolled by the driver, and
    // their dynamic register indexing ran 10x slower.
    for (var v = 0u; v < TM; v++) {
      let t = subgroupShuffle(mineA[v / SHARE], v % SHARE);
      if (TRANS_A) {
        let kk = v / (TM / 4u);
        let g = 4u * (v % (TM / 4u));
        a[g][kk] = t.x;
        a[g + 1u][kk] = t.y;
        a[g + 2u][kk] = t.z;
        a[g + 3u][kk] = t.w;
      } else {
        a[v] = t;
      }
    }
#else
    if (TRANS_A) {
      for (var kk = 0u; kk < 4u; kk++) {
        let o = (k0 + kk) * aStep;
        for (var g = 0u; g < TM; g += 4u) {
          let v = a4(vec4(aIdx[g], aIdx[g + 1u], aIdx[g + 2u], aIdx[g + 3u]) + vec4(o));
          a[g][kk] = v.x;
          a[g + 1u][kk] = v.y;
          a[g + 2u][kk] = v.z;
          a[g + 3u][kk] = v.w;
        }
      }
    } else {
      for (var r = 0u; r < TM; r++) {
        a[r] = a4(vec4(aIdx[r] + k0) + CONSECUTIVE);
      }
    }
#endif
    if (TRANS_B) {
      for (var c = 0u; c < TN; c++) {
        let v = b4(vec4(bIdx[c] + k0) + CONSECUTIVE);
        b[c / 4u][c % 4u] = v.x;
        b[TN4 + c / 4u][c % 4u] = v.y;
        b[2u * TN4 + c / 4u][c % 4u] = v.z;
        b[3u * TN4 + c / 4u][c % 4u] = v.w;
      }
    } else {
      for (var kk = 0u; kk < 4u; kk++) {
        let o = (k0 + kk) * bStep;
        for (var j = 0u; j < TN4; j++) {
          let c = 4u * j;
          b[kk * TN4 + j] = b4(vec4(bIdx[c], bIdx[c + 1u], bIdx[c + 2u], bIdx[c + 3u]) + vec4(o));
        }
      }
    }
    // A sequential sum over k per element (the error bound the tests assume).
    for (var r = 0u; r < TM; r++) {
      let ar = a[r];
      for (var j = 0u; j < TN4; j++) {
        var s = acc[r * TN4 + j];
        s += ar.x * b[j];
        s += ar.y * b[TN4 + j];
        s += ar.z * b[2u * TN4 + j];
        s += ar.w * b[3u * TN4 + j];
        acc[r * TN4 + j] = s;
      }
    }
  }

  // The k % 4 tail, one rank-1 update at a time (at most 3, so no sharing).
  for (var kk = k4; kk < k; kk++) {
    var b: array<vec4<f32>, TN4>;
    for (var j = 0u; j < TN4; j++) {
      let c = 4u * j;
      let o = kk * bStep;
      b[j] = vec4(b1(bIdx[c] + o), b1(bIdx[c + 1u] + o), b1(bIdx[c + 2u] + o), b1(bIdx[c + 3u] + o));
    }
    for (var r = 0u; r < TM; r++) {
      let ar = a1(aIdx[r] + kk * aStep);
      for (var j = 0u; j < TN4; j++) {
        acc[r * TN4 + j] += ar * b[j];
      }
    }
  }

  for (var r = 0u; r < TM; r++) {
    let row = row0 + r;
    if (row >= m) {
      break;
    }
    for (var j = 0u; j < TN4; j++) {
      let col = col0 + 4u * j;
#if ${VEC4}
      if (col < n) {
        C[(row * n + col) >> 2u] = acc[r * TN4 + j];
      }
#else
      for (var i = 0u; i < 4u; i++) {
        if (col + i < n) {
          C[row * n + col + i] = acc[r * TN4 + j][i];
        }
      }
#endif
    }
  }
}
