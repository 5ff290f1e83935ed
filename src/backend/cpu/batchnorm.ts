// CPU reference: batch norm over n, h, w per channel of an NHWC tensor, in float64 with plain loops.
// Element (row r, channel ch) of the [rows = n*h*w, c] view is x[r * c + ch].
import type { BnFuse } from '../../core/types.js';
import type { BatchNormGeometry } from '../../core/geometry.js';

function rowsOf(g: BatchNormGeometry): number {
  return g.n * g.h * g.w;
}

function checkResidual(fuse: BnFuse, residual: Float64Array | null): void {
  if ((fuse === 'add-relu') !== (residual !== null)) throw new Error(`batchNorm: fuse '${fuse}' with${residual ? '' : 'out'} a residual`);
}

/** y = fuse(gamma * (x - mean) * invStd + beta [+ residual]). */
function normalise(x: Float64Array, gamma: Float64Array, beta: Float64Array, mean: ArrayLike<number>, invStd: ArrayLike<number>, residual: Float64Array | null, g: BatchNormGeometry, fuse: BnFuse): Float64Array {
  const c = g.c;
  const y = new Float64Array(rowsOf(g) * c);
  for (let i = 0; i < y.length; i++) {
    const ch = i % c;
    let v = gamma[ch]! * (x[i]! - mean[ch]!) * invStd[ch]! + beta[ch]!;
    if (residual) v += residual[i]!;
    y[i] = fuse === 'none' ? v : Math.max(v, 0);
  }
  return y;
}

export function batchNormTrain(x: Float64Array, gamma: Float64Array, beta: Float64Array, rm: Float64Array, rv: Float64Array, residual: Float64Array | null, g: BatchNormGeometry, fuse: BnFuse): { y: Float64Array; mean: Float64Array; invStd: Float64Array } {
  const rows = rowsOf(g);
  const c = g.c;
  if (rows < 2) throw new Error(`batchNormTrain: expected more than 1 value per channel when training, got [${g.n}, ${g.h}, ${g.w}, ${c}]`);
  checkResidual(fuse, residual);
  const mean = new Float64Array(c);
  for (let r = 0; r < rows; r++) for (let ch = 0; ch < c; ch++) mean[ch] += x[r * c + ch]!;
  for (let ch = 0; ch < c; ch++) mean[ch] /= rows;
  // Two passes: the sum of squared deviations, never E[x^2] - E[x]^2.
  const variance = new Float64Array(c);
  for (let r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++) {
      const d = x[r * c + ch]! - mean[ch]!;
      variance[ch] += d * d;
    }
  }
  const invStd = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    variance[ch] /= rows;
    invStd[ch] = 1 / Math.sqrt(variance[ch]! + g.eps);
    rm[ch] = (1 - g.momentum) * rm[ch]! + g.momentum * mean[ch]!;
    rv[ch] = (1 - g.momentum) * rv[ch]! + g.momentum * variance[ch]! * (rows / (rows - 1));
  }
  return { y: normalise(x, gamma, beta, mean, invStd, residual, g, fuse), mean, invStd };
}

export function batchNormEval(x: Float64Array, gamma: Float64Array, beta: Float64Array, rm: Float64Array, rv: Float64Array, residual: Float64Array | null, g: BatchNormGeometry, fuse: BnFuse): Float64Array {
  checkResidual(fuse, residual);
  const invStd = Array.from(rv, (v) => 1 / Math.sqrt(v + g.eps));
  return normalise(x, gamma, beta, rm, invStd, residual, g, fuse);
}

export function batchNormBackward(dy: Float64Array, x: Float64Array, y: Float64Array, mean: Float64Array, invStd: Float64Array, gamma: Float64Array, g: BatchNormGeometry, fuse: BnFuse): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array; dresidual: Float64Array | null } {
  const rows = rowsOf(g);
  const c = g.c;
  const size = rows * c;
  // The gradient reaching the pre-activation: a fused ReLU passes it only where it let y through.
  const dyh = new Float64Array(size);
  for (let i = 0; i < size; i++) dyh[i] = fuse === 'none' || y[i]! > 0 ? dy[i]! : 0;
  const dbeta = new Float64Array(c);
  const dgamma = new Float64Array(c);
  for (let r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++) {
      const i = r * c + ch;
      dbeta[ch] += dyh[i]!;
      dgamma[ch] += dyh[i]! * (x[i]! - mean[ch]!) * invStd[ch]!;
    }
  }
  const dx = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const ch = i % c;
    const xhat = (x[i]! - mean[ch]!) * invStd[ch]!;
    dx[i] = ((gamma[ch]! * invStd[ch]!) / rows) * (rows * dyh[i]! - dbeta[ch]! - xhat * dgamma[ch]!);
  }
  return { dx, dgamma, dbeta, dresidual: fuse === 'add-relu' ? dyh : null };
}
