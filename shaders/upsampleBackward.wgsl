// Backward of nearest upsampling by 2 (NHWC), a gather: one invocation per input element sums the
// 2x2 block of dy it was copied to, dx[n, y, x, ch] = sum over a, b in {0, 1} of dy[n, 2y + a, 2x + b, ch].
// Specialised by VEC4 (c % 4 == 0): an element is 4 consecutive channels (fewer storage accesses, each
// a loop over the SIMD lanes on lavapipe); the sums are per component, in the same order.
#include "upsample_params.inc.wgsl"

@group(0) @binding(1) var<storage, read> dY: array<Channels>;
@group(0) @binding(2) var<storage, read_write> dX: array<Channels>;

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let at = nhwcAt(i, p.h, p.w, p.pixelLen);
  let ow = 2u * p.w;
  // dy[n, 2y, 2x, ch], and the same column one output row down.
  let top = ((at.n * 2u * p.h + 2u * at.y) * ow + 2u * at.x) * p.pixelLen + at.ch;  // MUTANT(index): let top = ((at.n * 2u * p.h + 2u * at.y) * ow + 2u * at.x + 1u) * p.pixelLen + at.ch;
  let bottom = top + ow * p.pixelLen;  // MUTANT(stride): let bottom = top + p.w * p.pixelLen;
  dX[i] = (dY[top] + dY[top + p.pixelLen]) + (dY[bottom] + dY[bottom + p.pixelLen]);  // MUTANT(term): dX[i] = (dY[top] + dY[top + p.pixelLen]) + dY[bottom];
}
