// CPU reference of the top-k mask along rows, by sorting: each row's indices ordered by value, largest
// first, equal values (-0 and +0 among them) by index; the first k get ones. Nothing shared with the
// shader's radix select but the contract.
import { type TopkGeometry, checkTopk } from '../../core/geometry.js';

/** mask[r, c] = 1 at the k largest of x[r, :] (ties to the lower c), else 0: exactly k ones per row. */
export function topkMask(x: Float64Array, g: TopkGeometry): Float64Array {
  const { rows, cols, k } = checkTopk(g);
  const mask = new Float64Array(rows * cols);
  const order = Array.from({ length: cols }, (_, c) => c);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const value = (c: number): number => x[base + c]!;
    order.sort((a, b) => (value(a) > value(b) ? -1 : value(a) < value(b) ? 1 : a - b));
    for (let i = 0; i < k; i++) mask[base + order[i]!] = 1;
  }
  return mask;
}
