// Max-pool backward as a gather (no atomics, deterministic): one invocation per input element sums dy
// of every window whose first maximum it is. The windows' argmax comes from a first pass over the
// windows (shaders/maxpool.wgsl with ARGMAX, the forward's own scan), made in the backward and freed
// after it, so no index tensor is kept between forward and backward. (Recomputing each window's argmax
// here instead scanned every window once per element it covers: 4x for 3x3 stride 2, 10x the forward.)
#include "common.wgsl"
#include "maxpoolParams.wgsl"

const WG: u32 = ${WG}u;

// VEC4 (c % 4 == 0): one invocation per 4 consecutive channels, vec4 loads and stores (on lavapipe a
// storage load costs a loop over the SIMD lanes). The sums are the same, channel by channel.
#if ${VEC4}
alias Lanes = vec4<f32>;
alias Index = vec4<u32>;
const L: u32 = 4u;
#else
alias Lanes = f32;
alias Index = u32;
const L: u32 = 1u;
#endif

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> Argmax: array<Index>;
@group(0) @binding(2) var<storage, read> dY: array<Lanes>;
@group(0) @binding(3) var<storage, read_write> dX: array<Lanes>;

#include "elementwise_main.inc.wgsl"

fn element(v: u32) {
  // p.size counts invocations: input elements / L.
  let i = v * L;
#if ${VEC4}
  let mine = vec4<u32>(i, i + 1u, i + 2u, i + 3u);
#else
  let mine = i;
#endif
  let at = nhwcAt(i, p.h, p.w, p.c);
  let x = i32(at.x);
  let y = i32(at.y);
  let k = i32(p.k);
  let s = i32(p.stride);
  let pad = i32(p.pad);
  // Windows holding row y: oy * s - pad <= y < oy * s - pad + k. Integer division truncates toward
  // zero, which can only raise a negative lower bound, and max(0, .) clamps it anyway.
  let oyLo = max(0, (y + pad - k + s) / s);  // MUTANT(index): let oyLo = max(0, (y + pad - k + s) / s + 1);
  let oyHi = min(i32(p.oh) - 1, (y + pad) / s);
  let oxLo = max(0, (x + pad - k + s) / s);
  let oxHi = min(i32(p.ow) - 1, (x + pad) / s);
  var acc = Lanes(0.0);
  for (var oy = oyLo; oy <= oyHi; oy++) {
    for (var ox = oxLo; ox <= oxHi; ox++) {
      let o = (((at.n * p.oh + u32(oy)) * p.ow + u32(ox)) * p.c + at.ch) / L;  // MUTANT(stride): let o = (((at.n * p.ow + u32(oy)) * p.oh + u32(ox)) * p.c + at.ch) / L;
      acc += select(Lanes(0.0), dY[o], Argmax[o] == mine);  // MUTANT(term): acc = select(Lanes(0.0), dY[o], Argmax[o] == mine);
    }
  }
  dX[v] = acc;
}
