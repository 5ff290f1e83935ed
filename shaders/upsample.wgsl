// Nearest upsampling by 2 (NHWC): one invocation per output element copies its source,
// out[n, oy, ox, ch] = x[n, oy / 2, ox / 2, ch].
// Specialised by VEC4 (c % 4 == 0): an element is 4 consecutive channels, one vec4 load and store
// instead of four (on lavapipe each storage access costs a loop over the SIMD lanes). A copy either way.
#include "upsample_params.inc.wgsl"

@group(0) @binding(1) var<storage, read> X: array<Channels>;
@group(0) @binding(2) var<storage, read_write> Out: array<Channels>;

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let o = nhwcAt(i, 2u * p.h, 2u * p.w, p.pixelLen);
  Out[i] = X[((o.n * p.h + o.y / 2u) * p.w + o.x / 2u) * p.pixelLen + o.ch];
}
