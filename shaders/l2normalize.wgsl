// L2 normalisation along rows of `dim` contiguous floats (F.l2Normalize over the last axis), one
// invocation per row: Y = X / max(||X||, eps), and Norm[r] = ||X|| (unclamped), kept for the backward.
// The squares are summed after scaling the row by the power of two 2^-e that brings its largest |x| into
// [0.5, 1): exact, and no square can overflow (|x| > 1.8e19) or underflow (|x| < 1e-19) float32. The
// sum runs in a fixed order (each lane in sequence, then the lanes), so results are deterministic.
// Specialised by VEC4 (dim % 4 == 0): 4 consecutive floats per load (lavapipe pays per storage access).
#include "l2normalize_rows.inc.wgsl"

#if ${VEC4}
alias Exponent = vec4<i32>;
fn laneMax(v: Channels) -> f32 {
  return max(max(v.x, v.y), max(v.z, v.w));
}
#else
alias Exponent = i32;
fn laneMax(v: Channels) -> f32 {
  return v;
}
#endif

@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read_write> Y: array<Channels>;
@group(0) @binding(3) var<storage, read_write> Norm: array<f32>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = flatIndex(wg, lid, WG);
  if (r >= p.rows) {
    return;
  }
  let base = r * p.rowLen;
  var big = Channels(0.0);
  for (var k = 0u; k < p.rowLen; k++) {
    big = max(big, abs(X[base + k]));
  }
  // frexp(0).exp is 0: a zero row stays unscaled and sums to 0.
  let e = frexp(laneMax(big)).exp;
  let down = Exponent(-e);
  var acc = Channels(0.0);
  for (var k = 0u; k < p.rowLen; k++) {
    let v = ldexp(X[base + k], down);
    acc += v * v;
  }
  let scaledNorm = sqrt(channelSum(acc));
  // Beyond 3.4e38 the saved norm is +inf (its backward then gives 0, the float32 of the true value),
  // but Y comes from the scaled row and stays right.
  let norm = ldexp(scaledNorm, e);
  Norm[r] = norm;
  if (norm > p.eps) {
    for (var k = 0u; k < p.rowLen; k++) {
      Y[base + k] = ldexp(X[base + k], down) / scaledNorm;
    }
  } else {
    for (var k = 0u; k < p.rowLen; k++) {
      Y[base + k] = X[base + k] / p.eps;
    }
  }
}
