// ${FN}(row, c4): channels 4*c4 .. 4*c4 + 3 of row `row` of ${BUF}, a [rows, p.${C}] array: one vec4 load
// where ${VEC} (p.${C} a multiple of 4, p.${C4} vec4s a row), else four scalar loads clamped to the row.
// Each include line sets FN, BUF, VEC (a specialisation constant), C and C4.
fn ${FN}(row: u32, c4: u32) -> vec4<f32> {
#if ${VEC}
  return ${BUF}[row * p.${C4} + c4];
#else
  let i = clampedLanes(row, p.${C}, c4);
  return vec4<f32>(${BUF}[i.x], ${BUF}[i.y], ${BUF}[i.z], ${BUF}[i.w]);
#endif
}
