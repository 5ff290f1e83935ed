// Register-tile constants and index helpers, included by conv2d, conv2d_input_grad and conv2d_weight_grad.

const WG: u32 = ${WG}u;
const NV: u32 = ${NV}u;
// Lanes a subgroup shuffle shares among: SHARE of src/gpu/subgroups.ts, the one definition.
const SHARE: u32 = ${SHARE}u;

// The NV vec4 columns from col0 of rows count4 vec4s long. Columns past the end are clamped to the last
// one: computed redundantly, never written.
fn clampedColumns(col0: u32, count4: u32) -> array<u32, NV> {
  var cols: array<u32, NV>;
  for (var q = 0u; q < NV; q++) {
    cols[q] = min(col0 + q, count4 - 1u);
  }
  return cols;
}

// Scalar indices of channels 4*c4 .. 4*c4 + 3 of row `row` of a [rows, len] array, clamped to the row's
// last channel: a vec4 read as scalars where len is no multiple of 4.
fn clampedLanes(row: u32, len: u32, c4: u32) -> vec4<u32> {
  let base = row * len;
  let last = base + len - 1u;
  let c = base + c4 * 4u;
  return vec4<u32>(min(c, last), min(c + 1u, last), min(c + 2u, last), min(c + 3u, last));
}

// How many of channels 4*c4 .. 4*c4 + 3 lie below len: the lanes a scalar store writes.
fn lanesBelow(len: u32, c4: u32) -> u32 {
  return min(len - c4 * 4u, 4u);
}
