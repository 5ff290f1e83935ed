// The train-step benchmark runs at a tiny size in CI so that it cannot rot; no timing is asserted.
import { describe, expect, it } from 'vitest';
import { benchTrain } from '../../src/measure/train.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

describe('bench train', () => {
  it('reports speed, memory and a per-kernel profile', async () => {
    const r = await benchTrain(ctx.gpu, { batch: 2, size: 32, steps: 2, warmup: 1, profile: true });
    expect(r.stepMs).toBeGreaterThan(0);
    expect(r.inferMs).toBeGreaterThan(0);
    expect(Number.isFinite(r.trainImagesPerSecond) && Number.isFinite(r.finalLoss)).toBe(true);
    expect(r.poolPeakBytes).toBeGreaterThan(0);
    // Parameters, gradients and two moments of 24,436,369 floats, and more (padding, the stem's pad channel).
    expect(r.arenaBytes).toBeGreaterThanOrEqual(4 * 4 * 24_436_369);
    const kernels = r.profile!.map((k) => k.kernel);
    for (const k of ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad', 'adam']) expect(kernels).toContain(k);
    const shares = r.profile!.reduce((s, k) => s + k.share, 0);
    expect(shares).toBeCloseTo(1, 6);
    // Two timed steps' worth of the 94 convolutions (forward) were timed.
    expect(r.profile!.find((k) => k.kernel === 'conv2d')!.count).toBe(2 * 47);
  });
});
