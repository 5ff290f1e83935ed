// Backward of training batch norm over an NHWC tensor viewed as [rows, c], m = rows per channel.
// g = dy, masked by (y > 0) when the forward fused a ReLU (relu = 1, a uniform: Y stays bound either
// way, so both entry points share one binding layout); xhat = (x - mean) * invStd.
// partialSums: Out[0, s, ch] = sum of g, Out[1, s, ch] = sum of g * xhat over the rows of chunk s; the
//   host adds them over s in a fixed order into Sums = [dbeta, dgamma] (deterministic, no atomics).
// inputGrad: dx = gamma * invStd / m * (m * g - dbeta - xhat * dgamma); with RESIDUAL, dresidual = g.
// Specialised by VEC4 (c % 4 == 0): every buffer is read and written as vec4 (4 consecutive channels),
// an invocation takes one (lavapipe pays per storage access instruction, so one vec4 beats four f32);
// the arithmetic and the order of the sums are the same per component.
#include "batchnorm_chunks.inc.wgsl"

struct Params {
#include "batchnorm_chunk_fields.inc.wgsl"
  // Elements (Channels) of Dy: rows * rowLen.
  size: u32,
  relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Dy: array<Channels>;
@group(0) @binding(2) var<storage, read> X: array<Channels>;
@group(0) @binding(3) var<storage, read> Y: array<Channels>;
@group(0) @binding(4) var<storage, read> Mean: array<Channels>;
@group(0) @binding(5) var<storage, read> InvStd: array<Channels>;
@group(0) @binding(6) var<storage, read_write> Out: array<Channels>;
// inputGrad only: [gamma, dbeta, dgamma], rowLen elements each (one buffer, so that with Dresidual the
// entry point binds 8 storage buffers, what every adapter allows).
@group(0) @binding(7) var<storage, read> Coef: array<Channels>;
#if ${RESIDUAL}
@group(0) @binding(8) var<storage, read_write> Dresidual: array<Channels>;
#endif

fn maskedGrad(i: u32) -> Channels {
  if (p.relu != 0u) {
    return select(Dy[i], Channels(0.0), Y[i] <= Channels(0.0));  // MUTANT(index): return select(Dy[i], Channels(0.0), Y[0] <= Channels(0.0));
  }
  return Dy[i];
}

@compute @workgroup_size(WG)
fn partialSums(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flatIndex(wg, lid, WG);
  if (t >= p.splits * p.rowLen) {
    return;
  }
  let c = chunkOf(t);
  let mean = Mean[c.ch];
  let invStd = InvStd[c.ch];
  var sumG = Channels(0.0);
  var sumGx = Channels(0.0);
  var idx = c.r0 * p.rowLen + c.ch;
  for (var r = c.r0; r < c.r1; r++) {
    let g = maskedGrad(idx);
    sumG += g;
    sumGx += g * (X[idx] - mean) * invStd;  // MUTANT(term): sumGx += g * X[idx] * invStd;
    idx += p.rowLen;  // MUTANT(stride): idx += 1u;
  }
  storeSums(c, sumG, sumGx);
}

@compute @workgroup_size(WG)
fn inputGrad(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flatIndex(wg, lid, WG);
  if (i >= p.size) {
    return;
  }
  let ch = i % p.rowLen;
  let m = f32(p.rows);
  let g = maskedGrad(i);
  let invStd = InvStd[ch];
  let xhat = (X[i] - Mean[ch]) * invStd;
  let dbeta = Coef[p.rowLen + ch];
  let dgamma = Coef[2u * p.rowLen + ch];  // MUTANT(index): let dgamma = Coef[p.rowLen + ch];
  Out[i] = Coef[ch] * invStd / m * (m * g - dbeta - xhat * dgamma);  // MUTANT(term): Out[i] = Coef[ch] * invStd / m * (m * g - xhat * dgamma);
#if ${RESIDUAL}
  Dresidual[i] = g;  // MUTANT(index): Dresidual[ch] = g;
#endif
}
