// CPU reference: Adam with bias correction and decoupled weight decay (AdamW), in place, in float64.
import type { AdamHyper } from '../../core/types.js';

export function adam(params: Float64Array, grads: Float64Array, m: Float64Array, v: Float64Array, size: number, h: AdamHyper): void {
  const correction1 = 1 - Math.pow(h.beta1, h.step);
  const correction2 = 1 - Math.pow(h.beta2, h.step);
  for (let j = 0; j < size; j++) {
    const g = grads[j]!;
    m[j] = h.beta1 * m[j]! + (1 - h.beta1) * g;
    v[j] = h.beta2 * v[j]! + (1 - h.beta2) * g * g;
    const update = m[j]! / correction1 / (Math.sqrt(v[j]! / correction2) + h.eps);
    params[j] = params[j]! - h.lr * (update + h.weightDecay * params[j]!);
  }
}
