// Backward of the L2 normalisation (shaders/l2normalize.wgsl), one invocation per row of `dim` floats,
// from the forward's output Y and its saved, unclamped Norm n:
//   dX = (dY - Y <dY, Y>) / n   where n > eps (the projection off Y, as y = x / n),
//   dX = dY / eps               where the forward clamped (y = x / eps is linear).
// <dY, Y> is summed in a fixed order (each lane in sequence, then the lanes): deterministic. No
// overflow: |y| <= 1, and an n past float32's range (+inf) gives 0.
// Specialised by VEC4 (dim % 4 == 0): 4 consecutive floats per load.
#include "l2normalize_rows.inc.wgsl"

@group(0) @binding(1) var<storage, read> Dy: array<Channels>;
@group(0) @binding(2) var<storage, read> Y: array<Channels>;
@group(0) @binding(3) var<storage, read> Norm: array<f32>;
@group(0) @binding(4) var<storage, read_write> Dx: array<Channels>;

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = flatIndex(wg, lid, WG);
  if (r >= p.rows) {
    return;
  }
  let base = r * p.rowLen;  // MUTANT(stride): let base = r * p.rows;
  let n = Norm[r];
  if (!(n > p.eps)) {
    for (var k = 0u; k < p.rowLen; k++) {
      Dx[base + k] = Dy[base + k] / p.eps;
    }
    return;
  }
  var acc = Channels(0.0);
  for (var k = 0u; k < p.rowLen; k++) {
    acc += Dy[base + k] * Y[base + k];  // MUTANT(index): acc += Dy[base + k] * Y[base];
  }
  let dot = channelSum(acc);
  for (var k = 0u; k < p.rowLen; k++) {
    Dx[base + k] = (Dy[base + k] - Y[base + k] * dot) / n;  // MUTANT(term): Dx[base + k] = Dy[base + k] / n;
  }
}
