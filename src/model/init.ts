// Initialisers, as PyTorch's torchvision ResNet and segmentation_models_pytorch use them.
import { type Rng, normal } from '../util/random.js';

export const constant = (value: number) => (_r: Rng, size: number) => new Float32Array(size).fill(value);

/** He normal over fan-out (torchvision ResNet convs: kaiming_normal_, mode='fan_out', relu). */
export const heNormalFanOut = (fanOut: number) => (r: Rng, size: number) => normal(r, size, Math.sqrt(2 / fanOut));

/** He uniform over fan-in (smp decoder convs: kaiming_uniform_, mode='fan_in', relu). */
export const heUniformFanIn = (fanIn: number) => (r: Rng, size: number) => uniformBound(r, size, Math.sqrt(6 / fanIn));

/** Xavier uniform (smp segmentation head). */
export const xavierUniform = (fanIn: number, fanOut: number) => (r: Rng, size: number) =>
  uniformBound(r, size, Math.sqrt(6 / (fanIn + fanOut)));

function uniformBound(r: Rng, size: number, bound: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * r() - 1) * bound;
  return out;
}
