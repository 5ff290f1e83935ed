// The state dict's tensors as the ONNX graph (onnx-unet.ts) takes them: each once, with its expected
// PyTorch shape, checked; and eval-mode batch norm folded into the conv before it.
import type { NamedTensor } from '../model/safetensors.js';
import { InputError } from '../util/errors.js';

/** The state dict's tensors, each taken once with its expected PyTorch shape and checked. */
export class Weights {
  private readonly used = new Set<string>();

  constructor(private readonly tensors: Map<string, NamedTensor>, private readonly source: string) {}

  take(name: string, shape: number[]): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new InputError(`${this.source}: tensor '${name}' is missing`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new InputError(`${this.source}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    if (!(t.data instanceof Float32Array)) throw new InputError(`${this.source}: tensor '${name}' is ${t.dtype}, expected a float tensor`);
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new InputError(`${this.source}: tensor '${name}' holds ${t.data[bad]} (element ${bad}): weights must be finite numbers`);
    this.used.add(name);
    return t.data;
  }

  /** A name the walk did not take is another model's (batch-norm step counters aside: eval needs none). */
  checkAllUsed(): void {
    for (const name of this.tensors.keys()) {
      if (!this.used.has(name) && !name.endsWith('.num_batches_tracked')) {
        throw new InputError(`${this.source}: unexpected tensor '${name}' (not a ResNet-34 UNet name)`);
      }
    }
  }
}

/** The index of the first NaN or infinity, or -1 (a plain loop: findIndex's callback is 10x slower here). */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/** PyTorch's BatchNorm2d tensors in the order ONNX's BatchNormalization takes them (scale, B, mean, var). */
export const BN_TENSORS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

export interface BatchNormStats {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
}

/**
 * Eval-mode batch norm after a bias-free conv, folded into it: with s = gamma / sqrt(var + eps) per
 * output channel, W' = W * s and b' = beta - mean * s (computed in float64, rounded once).
 */
export function foldBatchNorm(weight: Float32Array, bn: BatchNormStats, eps: number): { weight: Float32Array; bias: Float32Array } {
  const cout = bn.gamma.length;
  const perChannel = weight.length / cout;
  const folded = new Float32Array(weight.length);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const scale = bn.gamma[o]! / Math.sqrt(bn.variance[o]! + eps);
    for (let i = o * perChannel; i < (o + 1) * perChannel; i++) folded[i] = weight[i]! * scale;
    bias[o] = bn.beta[o]! - bn.mean[o]! * scale;
  }
  return { weight: folded, bias };
}
