// Max-pool forward (NHWC): one invocation per output element (n, oy, ox, ch), channels fastest so
// neighbouring invocations read neighbouring addresses. Specialised by ARGMAX: write the flat input
// index of each window's first maximum instead of its value (the first pass of the backward).
#include "common.wgsl"
#include "maxpoolWindow.wgsl"

const WG: u32 = ${WG}u;

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
#if ${ARGMAX}
@group(0) @binding(2) var<storage, read_write> Out: array<u32>;
#else
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
#endif

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let o = nhwcAt(i, p.oh, p.ow, p.c);
#if ${ARGMAX}
  Out[i] = firstMax(o.n, o.y, o.x, o.ch);  // MUTANT(index): Out[i] = firstMax(o.n, o.x, o.y, o.ch);
#else
  Out[i] = X[firstMax(o.n, o.y, o.x, o.ch)];
#endif
}
