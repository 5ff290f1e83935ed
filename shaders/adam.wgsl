// Adam with bias correction and decoupled weight decay (AdamW), in place, one invocation per element:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr (m / bc1 / (sqrt(v / bc2) + eps) + wd p),  bc = 1 - beta^step (computed on the host).
// Gaps of an arena are zero in p, g, m and v, and stay zero.
#include "common.wgsl"

const WG: u32 = 256u;

struct Params {
  size: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  oneMinusBeta1: f32,
  oneMinusBeta2: f32,
  eps: f32,
  weightDecay: f32,
  biasCorrection1: f32,
  biasCorrection2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = flatIndex(wid, nwg, lid, WG);
  if (j >= p.size) {
    return;
  }
  let g = G[j];
  let m = p.beta1 * M[j] + p.oneMinusBeta1 * g;
  let v = p.beta2 * V[j] + p.oneMinusBeta2 * (g * g);
  M[j] = m;
  V[j] = v;
  let mHat = m / p.biasCorrection1;
  let vHat = v / p.biasCorrection2;
  let param = P[j];
  P[j] = param - p.lr * (mHat / (sqrt(vHat) + p.eps) + p.weightDecay * param);
}
