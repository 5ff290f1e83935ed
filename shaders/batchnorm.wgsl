// Batch norm's normalise + affine pass over an NHWC tensor (channel = i % c), with the fused activation:
// y = [relu](gamma * (x - mean) * invStd + beta [+ residual]).
// Training passes the batch mean and invStd; inference passes the running mean and running variance
// with statIsVariance = 1, and invStd is formed here (a uniform branch, not another pipeline).
// Specialised by RELU and RESIDUAL (the fuse modes none, relu, add-relu).
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  size: u32,
  c: u32,
  statIsVariance: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Gamma: array<f32>;
@group(0) @binding(3) var<storage, read> Beta: array<f32>;
@group(0) @binding(4) var<storage, read> Mean: array<f32>;
@group(0) @binding(5) var<storage, read> Stat: array<f32>;
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;
#if ${RESIDUAL}
@group(0) @binding(7) var<storage, read> Residual: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wid, nwg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.c;
  var invStd = Stat[ch];
  if (p.statIsVariance != 0u) {
    invStd = inverseSqrt(invStd + p.eps);
  }
  var v = Gamma[ch] * (X[i] - Mean[ch]) * invStd + Beta[ch];
#if ${RESIDUAL}
  v += Residual[i];
#endif
#if ${RELU}
  v = max(v, 0.0);
#endif
  Y[i] = v;
}
