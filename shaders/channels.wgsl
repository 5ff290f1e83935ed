// The element of the memory-bound NHWC kernels, by VEC4 (chosen by elementWidth in src/kernels/vec4.ts):
// 4 consecutive channels as one vec4 (on lavapipe every storage access costs a loop over the SIMD lanes),
// or one channel. The arithmetic is per component either way.
#if ${VEC4}
alias Channels = vec4<f32>;
// The sum of an element's components, in a fixed order (pairs first).
fn channelSum(v: Channels) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}
#else
alias Channels = f32;
fn channelSum(v: Channels) -> f32 {
  return v;
}
#endif
