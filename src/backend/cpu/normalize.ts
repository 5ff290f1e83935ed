// CPU reference: L2 normalisation along rows of `dim` contiguous elements, and its backward, in float64.
// The squares are summed as they are: float64 overflows only past |x| ~ 1e154 and underflows below
// 1e-162, far outside float32's range, so every float32 input gets its norm to float64 precision.

/** y[r, :] = x[r, :] / max(||x[r, :]||, eps); norm[r] = ||x[r, :]|| (unclamped). */
export function l2Normalize(x: Float64Array, rows: number, dim: number, eps: number): { y: Float64Array; norm: Float64Array } {
  const y = new Float64Array(rows * dim);
  const norm = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let s = 0;
    for (let k = 0; k < dim; k++) s += x[base + k]! * x[base + k]!;
    const n = Math.sqrt(s);
    norm[r] = n;
    const d = Math.max(n, eps);
    for (let k = 0; k < dim; k++) y[base + k] = x[base + k]! / d;
  }
  return { y, norm };
}

/** dx = (dy - y <dy, y>) / n where n > eps; dx = dy / eps where the forward clamped. */
export function l2NormalizeBackward(
  dy: Float64Array, y: Float64Array, norm: Float64Array, rows: number, dim: number, eps: number,
): Float64Array {
  const dx = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const n = norm[r]!;
    if (!(n > eps)) {
      for (let k = 0; k < dim; k++) dx[base + k] = dy[base + k]! / eps;
      continue;
    }
    let dot = 0;
    for (let k = 0; k < dim; k++) dot += dy[base + k]! * y[base + k]!;
    for (let k = 0; k < dim; k++) dx[base + k] = (dy[base + k]! - y[base + k]! * dot) / n;
  }
  return dx;
}
