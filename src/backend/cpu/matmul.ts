// CPU reference: C = op(A) op(B).
import type { MatmulGeometry } from '../../core/geometry.js';

export function matmul(a: Float64Array, b: Float64Array, g: MatmulGeometry): Float64Array {
  const { m, n, k, transA, transB } = g;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i]! : a[i * k + p]!;
        const bv = transB ? b[j * k + p]! : b[p * n + j]!;
        acc += av * bv;
      }
      out[i * n + j] = acc;
    }
  }
  return out;
}
