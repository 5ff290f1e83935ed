// Batch norm's normalise + affine pass over an NHWC tensor (channel = i % c), with the fused activation:
// y = [relu](gamma * (x - mean) * invStd + beta [+ residual]).
// Training passes the batch mean and invStd; inference passes the running mean and running variance
// with statIsVariance = 1, and invStd is formed here (a uniform branch, not another pipeline).
// Specialised by RELU and RESIDUAL (the fuse modes none, relu, add-relu), and by VEC4 (c % 4 == 0):
// every buffer is read as vec4 (4 consecutive channels) and each invocation takes one; on lavapipe
// every storage access costs a loop over the SIMD lanes, so one vec4 access beats four f32 ones. The
// arithmetic is per component, so both variants compute the same values.
#include "common.wgsl"

const WG: u32 = 256u;

#include "channels.wgsl"

struct Params {
  // Elements (Channels) of X: n*h*w*c, or a quarter of it with VEC4.
  size: u32,
  // Elements per row: c, or c / 4 with VEC4.
  rowLen: u32,
  statIsVariance: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read> Gamma: array<Channels>;
@group(0) @binding(3) var<storage, read> Beta: array<Channels>;
@group(0) @binding(4) var<storage, read> Mean: array<Channels>;
@group(0) @binding(5) var<storage, read> Stat: array<Channels>;
@group(0) @binding(6) var<storage, read_write> Y: array<Channels>;
#if ${RESIDUAL}
@group(0) @binding(7) var<storage, read> Residual: array<Channels>;
#endif

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let ch = i % p.rowLen;  // MUTANT(index): let ch = i / p.rowLen;
  var invStd = Stat[ch];
  if (p.statIsVariance != 0u) {
    invStd = inverseSqrt(invStd + p.eps);
  }
  var v = Gamma[ch] * (X[i] - Mean[ch]) * invStd + Beta[ch];  // MUTANT(term): var v = Gamma[ch] * (X[i] - Mean[ch]) * invStd;
#if ${RESIDUAL}
  v += Residual[i];  // MUTANT(index): v += Residual[ch];
#endif
#if ${RELU}
  v = max(v, Channels(0.0));
#endif
  Y[i] = v;
}
