// The weights of conv2d as the input gradient reads them: WT[tap, co, ci] = W[tap, ci, co], with cout
// and cin zero-padded to multiples of 4 so the gradient kernel reads whole vec4 rows of input channels
// and may sum over a padded last group of output channels (the zeros add nothing). Each invocation
// moves one 4 x 4 block (4 input x 4 output channels of one tap), so the index arithmetic is paid once
// per 16 weights and the stores are whole vec4 rows.
//
// Specialised by VEC_W: cout % 4 == 0, so the block is read as four vec4 rows along cout (on lavapipe a
// storage load costs a loop over the SIMD lanes: 4 loads instead of 16); and by FLIP: the taps are
// also reversed (tap (i, j) goes to (kh-1-i, kw-1-j), i.e. to taps-1-tap), which makes WT the HWIO
// weights of the stride-1 input gradient as a forward convolution of dy.
#include "common.wgsl"

const WG: u32 = 64u;

struct Params {
  cin: u32,
  cout: u32,
  // ceil(cin / 4), ceil(cout / 4)
  cin4: u32,
  cout4: u32,
  // Invocations: kh * kw * cout4 * cin4 blocks
  size: u32,
  // kh * kw
  taps: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#include "vec4_binding.inc.wgsl" BUF=W BINDING=1 VEC=${VEC_W} ACCESS=read
@group(0) @binding(2) var<storage, read_write> WT: array<vec4<f32>>;

#if ${VEC_W}
// W[tap, ci, 4*co4 .. 4*co4 + 3], or 0 past cin.
fn weightRow(tap: u32, ci: u32, co4: u32) -> vec4<f32> {
  if (ci >= p.cin) {
    return vec4<f32>(0.0);
  }
  return W[(tap * p.cin + ci) * p.cout4 + co4];
}
#else

// W[tap, ci, co], or 0 in the padding.
fn weight(tap: u32, ci: u32, co: u32) -> f32 {
  if (ci >= p.cin || co >= p.cout) {
    return 0.0;
  }
  return W[(tap * p.cin + ci) * p.cout + co];
}
#endif

#include "elementwise_main.inc.wgsl"

fn element(t: u32) {
  let ci4 = t % p.cin4;
  let co4 = (t / p.cin4) % p.cout4;
  let tap = t / (p.cin4 * p.cout4);
  let ci = ci4 * 4u;
#if ${FLIP}
  let out = p.taps - 1u - tap;  // MUTANT(index): let out = tap;
#else
  let out = tap;
#endif
#if ${VEC_W}
  let r0 = weightRow(tap, ci, co4);
  let r1 = weightRow(tap, ci + 1u, co4);
  let r2 = weightRow(tap, ci + 2u, co4);
  let r3 = weightRow(tap, ci + 3u, co4);
  for (var e = 0u; e < 4u; e++) {
    WT[(out * p.cout4 * 4u + co4 * 4u + e) * p.cin4 + ci4] = vec4<f32>(r0[e], r1[e], r2[e], r3[e]);
  }
#else
  for (var e = 0u; e < 4u; e++) {
    let co = co4 * 4u + e;
    WT[(out * p.cout4 * 4u + co) * p.cin4 + ci4] =
      vec4<f32>(weight(tap, ci, co), weight(tap, ci + 1u, co), weight(tap, ci + 2u, co), weight(tap, ci + 3u, co));
  }
#endif
}
