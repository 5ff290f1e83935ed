// CPU reference: weighted binary cross-entropy with logits (sigmoid fused) and its backward, in float64.
import type { BceGeometry } from '../../core/geometry.js';

/** max(x, 0) - x t + log(1 + e^-|x|): the same value as -t log s - (1 - t) log(1 - s), s = sigmoid(x), without overflow. */
function bce(x: number, t: number): number {
  return Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
}

function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

function weightSum(weights: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += weights[i]!;
  return s;
}

/** loss = sum_i w_i * mean_p bce(x[i, p], t[i, p]) / sum_i w_i, as 1 element. */
export function sigmoidBce(logits: Float64Array, targets: Float64Array, weights: Float64Array, g: BceGeometry): Float64Array {
  let weighted = 0;
  for (let i = 0; i < g.n; i++) {
    let s = 0;
    for (let p = i * g.perSample; p < (i + 1) * g.perSample; p++) s += bce(logits[p]!, targets[p]!);
    weighted += (weights[i]! * s) / g.perSample;
  }
  return Float64Array.of(weighted / weightSum(weights, g.n));
}

/** dlogits = dloss * w_i * (sigmoid(x) - t) / (perSample * sum_i w_i). */
export function sigmoidBceBackward(
  logits: Float64Array, targets: Float64Array, weights: Float64Array, dloss: Float64Array, g: BceGeometry,
): Float64Array {
  const out = new Float64Array(g.n * g.perSample);
  const norm = dloss[0]! / (g.perSample * weightSum(weights, g.n));
  for (let i = 0; i < g.n; i++) {
    for (let p = i * g.perSample; p < (i + 1) * g.perSample; p++) {
      out[p] = norm * weights[i]! * (sigmoid(logits[p]!) - targets[p]!);
    }
  }
  return out;
}
