// Adam with bias correction and decoupled weight decay (AdamW), in place, elementwise:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr (m / bc1 / (sqrt(v / bc2) + eps) + wd p),  bc = 1 - beta^step (computed on the host).
// Gaps of an arena are zero in p, g, m and v, and stay zero.
// Specialised by
//   VEC4  every buffer is read as vec4 (ranges a multiple of 4 long at 16-byte offsets): on lavapipe
//         each storage access costs a loop over the SIMD lanes, so one vec4 access beats four f32
//         ones. The arithmetic is per component, so both variants compute the same values;
//   WG    invocations per workgroup;
//   PER   consecutive elements (vec4s with VEC4) per invocation.
#include "common.wgsl"

const WG: u32 = ${WG}u;
const PER: u32 = ${PER}u;

#if ${VEC4}
alias Elements = vec4<f32>;
#else
alias Elements = f32;
#endif

struct Params {
  // Elements of each binding: floats, or a quarter of them with VEC4.
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
@group(0) @binding(1) var<storage, read_write> P: array<Elements>;
@group(0) @binding(2) var<storage, read> G: array<Elements>;
@group(0) @binding(3) var<storage, read_write> M: array<Elements>;
@group(0) @binding(4) var<storage, read_write> V: array<Elements>;

fn update(j: u32) {
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

@compute @workgroup_size(WG)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let first = flatIndex(wg, lid, WG) * PER;
  for (var k = 0u; k < PER; k++) {
    let j = first + k;
    if (j < p.size) {
      update(j);
    }
  }
}
