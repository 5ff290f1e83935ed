// The GEMM core of the workgroup-memory tiles, included by conv2d_workgroup_tile and its weight gradient.
//
// Both compute Out = A B per workgroup tile, stage by stage: a stage stages STEPS values of the sum
// dimension, As[s][row] of A (im2col of x, staged by the includer) and Bs[s][col] of B (the weights or
// dy: [rows, cout4] vec4s), and each invocation accumulates ROWS rows x NV vec4 columns of Out from them.
// The includer declares ROWS, STEPS and the bindings B and Out (rows of cout4 vec4s).

const WX: u32 = ${WX}u;
const WY: u32 = ${WY}u;
const NV: u32 = ${NV}u;
const THREADS: u32 = WX * WY;
/** vec4 columns of channels per workgroup tile. */
const BN4: u32 = WX * NV;
/** vec4 loads of A per stage (STEPS x WY * ROWS values), and per invocation. */
const A_LOADS: u32 = STEPS * (WY * ROWS) / 4u;
const A_PER: u32 = (A_LOADS + THREADS - 1u) / THREADS;
/** vec4 loads of B per stage (STEPS rows x BN4), and per invocation. */
const B_LOADS: u32 = STEPS * BN4;
const B_PER: u32 = (B_LOADS + THREADS - 1u) / THREADS;

/** A's slab: row s of a stage holds the tile's WY * ROWS rows (pixels, or weight rows), read as a broadcast along WX. */
var<workgroup> As: array<array<f32, WY * ROWS>, STEPS>;
/** B's slab: STEPS rows of BN4 vec4 columns. */
var<workgroup> Bs: array<array<vec4<f32>, BN4>, STEPS>;

// Invocation li's share of staging rows r0 .. r0 + STEPS of B, columns c0 .. c0 + BN4, into Bs (0 at
// rows from rowEnd and columns from cout4).
fn stageB(li: u32, r0: u32, rowEnd: u32, c0: u32) {
  for (var l = 0u; l < B_PER; l++) {
    let e = li + l * THREADS;
    if (e < B_LOADS) {
      let s = e / BN4;
      let cc = e % BN4;
      let row = r0 + s;
      let col = c0 + cc;
      var v = vec4<f32>(0.0);
      if (row < rowEnd && col < p.cout4) {
        v = B[row * p.cout4 + col];  // MUTANT(stride): v = B[row * p.cout4 + cc];
      }
      Bs[s][cc] = v;
    }
  }
}

// One staged stage into the invocation's accumulators, in the order of the sum.
fn accumulateStage(acc: ptr<function, array<array<vec4<f32>, NV>, ROWS>>, lid: vec3<u32>) {
  for (var s = 0u; s < STEPS; s++) {
    var b: array<vec4<f32>, NV>;
    for (var q = 0u; q < NV; q++) {
      // Neighbouring lanes read neighbouring vec4s (no bank conflicts).
      b[q] = Bs[s][lid.x + q * WX];  // MUTANT(stride): b[q] = Bs[s][lid.x * NV + q];
    }
    for (var r = 0u; r < ROWS; r++) {
      let a = As[s][lid.y * ROWS + r];  // MUTANT(index): let a = As[s][lid.y + r * WY];
      for (var q = 0u; q < NV; q++) {
        (*acc)[r][q] = (*acc)[r][q] + a * b[q];
      }
    }
  }
}

// The accumulators into Out: tile row r is row row0 + lid.y * ROWS + r of rows (those below rowEnd),
// stored at Out row outRow0 + that row.
fn storeTile(acc: ptr<function, array<array<vec4<f32>, NV>, ROWS>>, lid: vec3<u32>, row0: u32, rowEnd: u32, outRow0: u32, c0: u32) {
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + lid.y * ROWS + r;
    if (row >= rowEnd) {
      break;
    }
    for (var q = 0u; q < NV; q++) {
      let col = c0 + lid.x + q * WX;
      if (col < p.cout4) {
        Out[(outRow0 + row) * p.cout4 + col] = (*acc)[r][q];
      }
    }
  }
}
