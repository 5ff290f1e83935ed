// Inference: probabilities for images at the model's size, batched, in eval mode (running statistics),
// without the tape. The logits come back once per batch.
import type { Backend } from '../backend/backend.js';
import { Tensor, noGrad, scope } from '../autograd/index.js';
import { readImage, readMask } from '../data/index.js';
import { INPUT_CHANNELS, type Unet } from '../model/unet.js';
import { packInput } from './batch.js';
import { MetricAccumulator, type PixelMetrics } from './metrics.js';

/** Probabilities (size x size each) for RGB images (HWC in [0,1], size x size). */
export async function predictProbabilities(
  model: Unet,
  backend: Backend,
  images: Float32Array[],
  size: number,
  batch = 4,
): Promise<Float32Array[]> {
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
      for (let i = 0; i < chunk.length; i++) out.push(sigmoid(logits.subarray(i * pixels, (i + 1) * pixels)));
    }
  } finally {
    model.setTraining(wasTraining);
  }
  return out;
}

export function sigmoid(logits: ArrayLike<number>): Float32Array {
  const p = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    p[i] = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }
  return p;
}

export interface LabelledImage {
  image: string;
  /** null: a defect-free image (all background). */
  mask: string | null;
  type: string;
}

export interface EvaluationResult {
  overall: PixelMetrics;
  perType: Record<string, PixelMetrics>;
  images: number;
  size: number;
}

/**
 * Pixel metrics at the model's resolution (masks resized by nearest neighbour), per defect type (its
 * images only) and overall (every image, defect-free ones included).
 */
export async function evaluate(
  model: Unet,
  backend: Backend,
  items: LabelledImage[],
  size: number,
  onProgress: (done: number, total: number) => void = () => {},
  batch = 4,
): Promise<EvaluationResult> {
  const overall = new MetricAccumulator();
  const perType = new Map<string, MetricAccumulator>();
  for (let start = 0; start < items.length; start += batch) {
    const chunk = items.slice(start, start + batch);
    const images = await Promise.all(chunk.map((it) => readImage(it.image, size)));
    const masks = await Promise.all(chunk.map((it) => (it.mask ? readMask(it.mask, size) : Promise.resolve(new Uint8Array(size * size)))));
    const probs = await predictProbabilities(model, backend, images, size, batch);
    chunk.forEach((it, i) => {
      overall.add(probs[i]!, masks[i]!);
      let acc = perType.get(it.type);
      if (!acc) perType.set(it.type, (acc = new MetricAccumulator()));
      acc.add(probs[i]!, masks[i]!);
    });
    onProgress(Math.min(items.length, start + batch), items.length);
  }
  return {
    overall: overall.result(),
    perType: Object.fromEntries([...perType].map(([t, a]) => [t, a.result()])),
    images: items.length,
    size,
  };
}
