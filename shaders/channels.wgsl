// The element of the memory-bound NHWC kernels, by VEC4 (chosen by elementWidth in src/kernels/vec4.ts):
// 4 consecutive channels as one vec4 (on lavapipe every storage access costs a loop over the SIMD lanes),
// or one channel. The arithmetic is per component either way.
#if ${VEC4}
alias Channels = vec4<f32>;
#else
alias Channels = f32;
#endif
