// The similarity weights of crop-and-paste samples (METHOD.md): clamp(cos(mean feature over the pasted
// defect, mean feature over the same defect in its shot), 0, 1), without gradient; they reach the
// segmentation loss, so a sample of weight 0 contributes no gradient.
import { describe, expect, it } from 'vitest';
import { Tensor, scope } from '../../src/autograd/index.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { pasteAt } from '../../src/data/paste.js';
import { materialize } from '../../src/model/module.js';
import { Unet } from '../../src/model/unet.js';
import { type Batch, batchFromSamples } from '../../src/train/batch.js';
import { methodLoss, pasteWeights, uploadBatch } from '../../src/train/losses.js';
import { rng, uniform } from '../../src/util/random.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

/** 8x8 images, a 2x2 feature grid (stride 4), 3 channels. */
const S = 8;
const STRIDE = 4;
const G = S / STRIDE;
const C = 3;

/** A shot with a 3x3 defect in its top-left cell, and two pasted samples (their regions given by hand). */
function handBatch(): Batch {
  const r = rng(1);
  const shotMask = new Uint8Array(S * S);
  for (const y of [1, 2]) for (const x of [1, 2]) shotMask[y * S + x] = 1;
  const pasted1 = new Uint8Array(S * S);
  pasted1[0] = 1; // top-left cell
  const pasted2 = new Uint8Array(S * S);
  pasted2[S - 1] = 1; // top-right cell
  const sources = [
    { from: 0, mask: shotMask }, // top-left cell of the shot
    { from: 0, mask: Uint8Array.from(shotMask.map((_, i) => (i === S - 1 ? 1 : 0))) }, // top-right cell of the shot
  ];
  const image = () => uniform(r, S * S * 3, 0, 1);
  return batchFromSamples(
    [{ image: image(), mask: shotMask }, { image: image(), mask: pasted1 }, { image: image(), mask: pasted2 }],
    ['shot', 'pasted', 'pasted'],
    sources,
    { size: S, cellStride: STRIDE },
  );
}

/** Features [3, G, G, C]: the pasted defect of sample 1 points against its source, sample 2's nearly along. */
function handFeatures(): { features: Float64Array; cos2: number } {
  const f = Float64Array.from(uniform(rng(2), 3 * G * G * C, 0.1, 1));
  const cell = (n: number, y: number, x: number) => ((n * G + y) * G + x) * C;
  for (let c = 0; c < C; c++) f[cell(1, 0, 0) + c] = -2 * f[cell(0, 0, 0) + c]!;
  const a = [...f.subarray(cell(2, 0, 1), cell(2, 0, 1) + C)];
  const b = [...f.subarray(cell(0, 0, 1), cell(0, 0, 1) + C)];
  const cos2 = a.reduce((s, v, i) => s + v * b[i]!, 0) / (Math.hypot(...a) * Math.hypot(...b));
  return { features: f, cos2 };
}

describe('crop-and-paste weights', () => {
  const cpu = new CpuBackend();

  it('are the clamped cosine of the two region means, and a weight of 0 leaves its sample without gradient', async () => {
    const batch = handBatch();
    const { features, cos2 } = handFeatures();
    expect(batch.paste!.count).toBe(2);
    const result = scope(() => {
      const feat = Tensor.from(cpu, features, [3, G, G, C]);
      const logits = Tensor.from(cpu, uniform(rng(3), 3 * S * S, -3, 3), [3, S, S, 1], true);
      const b = uploadBatch(cpu, batch);
      const w = pasteWeights(feat, b.paste!);
      const terms = methodLoss([{ logits, features: feat, b }], { loss: 'bce', nbr: false, lambdaBg: 0, lambdaFeat: 0 }, true);
      terms.total.backward();
      return { weights: w.weights.toArray(), mean: w.mean.toArray(), grad: logits.grad!.toArray(), logits: logits.toArray() };
    });
    const weights = await result.weights;
    expect(weights[0]).toBe(1);
    expect(weights[1]).toBe(0);
    expect(cos2).toBeGreaterThan(0);
    expect(weights[2]).toBeCloseTo(cos2, 12);
    expect((await result.mean)[0]).toBeCloseTo(cos2 / 2, 12);
    const grad = await result.grad;
    const logits = await result.logits;
    const P = S * S;
    expect(grad.subarray(P, 2 * P).every((g) => g === 0), 'sample of weight 0').toBe(true);
    // Sample 2: w (sigmoid(x) - t) / (P * sum w), sum w = 1 + 0 + w.
    for (let q = 2 * P; q < 3 * P; q++) {
      const want = (cos2 * (1 / (1 + Math.exp(-logits[q]!)) - batch.target[q]!)) / (P * (1 + cos2));
      expect(grad[q]).toBeCloseTo(want, 12);
    }
    expect(grad.subarray(0, P).some((g) => g !== 0)).toBe(true);
  });

  it('are 1 for a defect pasted onto its own shot (the same features over the same cells), on the GPU', async () => {
    const size = 64;
    const stride = 8;
    const r = rng(4);
    const mask = new Uint8Array(size * size);
    for (let y = 20; y < 30; y++) for (let x = 12; x < 26; x++) mask[y * size + x] = 1;
    const shot = { image: uniform(r, size * size * 3, 0, 1), mask };
    const pasted = pasteAt(shot, shot.image, size, { component: 1, transform: 0, offset: [0, 0] });
    expect(Buffer.from(pasted.image.buffer).equals(Buffer.from(shot.image.buffer)), 'the same image back').toBe(true);
    const other = { image: uniform(r, size * size * 3, 0, 1), mask: new Uint8Array(size * size) };
    const batch = batchFromSamples([shot, { image: pasted.image, mask: pasted.mask }, other], ['shot', 'pasted', 'normal'], [{ from: 0, mask: pasted.sourceMask }], { size, cellStride: stride });
    const model = new Unet();
    const storage = materialize(model, ctx.be, rng(5));
    try {
      const w = scope(() => {
        const b = uploadBatch(ctx.be, batch);
        const { features } = model.forwardWithFeatures(b.input);
        return { weights: pasteWeights(features[2]!, b.paste!).weights.toArray() };
      });
      const weights = await w.weights;
      expect(weights[0]).toBe(1);
      expect(Math.abs(weights[1]! - 1)).toBeLessThan(1e-5);
      expect(weights[2]).toBe(0);
    } finally {
      storage.params.destroy();
      storage.buffers.destroy();
    }
  });
});
