// Binding ${BINDING}: ${BUF}, an array of vec4 where ${VEC}, else of f32, with ${ACCESS} access.
#if ${VEC}
@group(0) @binding(${BINDING}) var<storage, ${ACCESS}> ${BUF}: array<vec4<f32>>;
#else
@group(0) @binding(${BINDING}) var<storage, ${ACCESS}> ${BUF}: array<f32>;
#endif
