// Inference: logits (and probabilities) for images at the model's size, batched, in eval mode (running
// statistics), without the tape. The logits come back once per batch.
import type { Backend } from '../backend/backend.js';
import { Tensor, noGrad, scope } from '../autograd/index.js';
import { INPUT_CHANNELS, type Unet } from '../model/unet.js';
import { packInput } from './pack.js';

/** A prediction: one map (size x size) per RGB image (HWC in [0,1], size x size), `batch` images a pass. */
type Predict = <S>(model: Unet<S>, backend: Backend<S>, images: Float32Array[], size: number, batch?: number) => Promise<Float32Array[]>;

/** Logits (size x size each) for RGB images (HWC in [0,1], size x size). */
export const predictLogits: Predict = async (model, backend, images, size, batch = 4) => {
  const wasTraining = model.training;
  model.setTraining(false);
  const pixels = size * size;
  const out: Float32Array[] = [];
  try {
    for (let start = 0; start < images.length; start += batch) {
      const chunk = images.slice(start, start + batch);
      const input = new Float32Array(chunk.length * pixels * INPUT_CHANNELS);
      chunk.forEach((img, i) => packInput(input, i, img, size));
      const { pending } = noGrad(() =>
        scope(() => {
          const x = Tensor.from(backend, input, [chunk.length, size, size, INPUT_CHANNELS]);
          return { pending: model.forward(x).toArray() };
        }),
      );
      const logits = await pending;
      // The GPU computes in float32; narrowing the widened download back to Float32Array is exact.
      for (let i = 0; i < chunk.length; i++) out.push(Float32Array.from(logits.subarray(i * pixels, (i + 1) * pixels)));
    }
  } finally {
    model.setTraining(wasTraining);
  }
  return out;
};

/** Probabilities (size x size each) for RGB images (HWC in [0,1], size x size): sigmoid of predictLogits. */
export const predictProbabilities: Predict = async (model, backend, images, size, batch) =>
  (await predictLogits(model, backend, images, size, batch)).map(sigmoid);

export function sigmoid(logits: ArrayLike<number>): Float32Array {
  const p = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    p[i] = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }
  return p;
}
