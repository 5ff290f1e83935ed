// Backward of training batch norm over an NHWC tensor viewed as [rows, c], m = rows per channel.
// g = dy, masked by (y > 0) when the forward fused a ReLU (relu = 1, a uniform: Y stays bound either
// way, so both entry points share one binding layout); xhat = (x - mean) * invStd.
// partialSums: Out[0, s, ch] = sum of g, Out[1, s, ch] = sum of g * xhat over the rows of chunk s; the
//   host adds them over s in a fixed order into Sums = [dbeta, dgamma] (deterministic, no atomics).
// inputGrad: dx = gamma * invStd / m * (m * g - dbeta - xhat * dgamma); with RESIDUAL, dresidual = g.
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  rows: u32,
  c: u32,
  chunk: u32,
  splits: u32,
  size: u32,
  relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Dy: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> Y: array<f32>;
@group(0) @binding(4) var<storage, read> Mean: array<f32>;
@group(0) @binding(5) var<storage, read> InvStd: array<f32>;
@group(0) @binding(6) var<storage, read_write> Out: array<f32>;
@group(0) @binding(7) var<storage, read> Gamma: array<f32>;
@group(0) @binding(8) var<storage, read> Sums: array<f32>;
#if ${RESIDUAL}
@group(0) @binding(9) var<storage, read_write> Dresidual: array<f32>;
#endif

fn maskedGrad(i: u32) -> f32 {
  if (p.relu != 0u && Y[i] <= 0.0) {
    return 0.0;
  }
  return Dy[i];
}

@compute @workgroup_size(WG)
fn partialSums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flatIndex(wid, nwg, lid, WG);
  if (t >= p.splits * p.c) {
    return;
  }
  let ch = t % p.c;
  let s = t / p.c;
  let r0 = s * p.chunk;
  let r1 = min(r0 + p.chunk, p.rows);
  let mean = Mean[ch];
  let invStd = InvStd[ch];
  var sumG = 0.0;
  var sumGx = 0.0;
  var idx = r0 * p.c + ch;
  for (var r = r0; r < r1; r++) {
    let g = maskedGrad(idx);
    sumG += g;
    sumGx += g * (X[idx] - mean) * invStd;  // MUTANT(term): sumGx += g * X[idx] * invStd;
    idx += p.c;  // MUTANT(stride): idx += 1u;
  }
  Out[s * p.c + ch] = sumG;
  Out[(p.splits + s) * p.c + ch] = sumGx;  // MUTANT(stride): Out[(p.c + ch) * p.splits + s] = sumGx;
}

@compute @workgroup_size(WG)
fn inputGrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.c;
  let m = f32(p.rows);
  let g = maskedGrad(i);
  let invStd = InvStd[ch];
  let xhat = (X[i] - Mean[ch]) * invStd;
  let dbeta = Sums[ch];
  let dgamma = Sums[p.c + ch];  // MUTANT(index): let dgamma = Sums[ch];
  Out[i] = Gamma[ch] * invStd / m * (m * g - dbeta - xhat * dgamma);  // MUTANT(term): Out[i] = Gamma[ch] * invStd / m * (m * g - xhat * dgamma);
#if ${RESIDUAL}
  Dresidual[i] = g;  // MUTANT(index): Dresidual[ch] = g;
#endif
}
