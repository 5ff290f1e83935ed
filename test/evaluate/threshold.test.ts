// The decision threshold: thresholdAtFpr against hand-computed cases and a property on random scores,
// the metrics at a second threshold (MetricAccumulator.atThreshold), and runThreshold's sources.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricAccumulator } from '../../src/evaluate/metrics.js';
import { runThreshold, thresholdAtFpr } from '../../src/evaluate/threshold.js';
import { rng } from '../../src/util/random.js';

const f32 = Math.fround;
const scores = (...v: number[]) => Float32Array.from(v);

describe('thresholdAtFpr', () => {
  it('picks the lowest score that leaves at most maxFpr of the pixels above it', () => {
    const p = [scores(0.1, 0.2, 0.2, 0.9)];
    // 0.25 of 4 pixels: one may be above. t = 0.2 leaves 0.9 alone (1/4); t = 0.1 would let 0.2, 0.2, 0.9 through.
    expect(thresholdAtFpr(p, 0.25)).toEqual({ threshold: f32(0.2), fpr: 0.25, pixels: 4 });
    // 0.2 of 4 is 0.8 pixels: none may be above, so t is the largest score.
    expect(thresholdAtFpr(p, 0.2)).toEqual({ threshold: f32(0.9), fpr: 0, pixels: 4 });
    expect(thresholdAtFpr(p, 0)).toEqual({ threshold: f32(0.9), fpr: 0, pixels: 4 });
  });

  it('handles ties: a threshold equal to a score excludes all its ties, so the rate may stay below the target', () => {
    const p = [scores(0.1, 0.2, 0.2, 0.9)];
    // Two may be above, but only one can: t = 0.2 keeps 0.9 (1/4), and t = 0.1 would keep three (3/4).
    expect(thresholdAtFpr(p, 0.5)).toEqual({ threshold: f32(0.2), fpr: 0.25, pixels: 4 });
    expect(thresholdAtFpr(p, 0.75)).toEqual({ threshold: f32(0.1), fpr: 0.75, pixels: 4 });
    // All equal: nothing can be let through but all of them.
    expect(thresholdAtFpr([scores(0.4, 0.4, 0.4)], 0.5)).toEqual({ threshold: f32(0.4), fpr: 0, pixels: 3 });
    expect(thresholdAtFpr([scores(0.4, 0.4, 0.4)], 0.99)).toEqual({ threshold: f32(0.4), fpr: 0, pixels: 3 });
  });

  it('pools the pixels of all images', () => {
    // Pooled: 0.05 0.1 0.3 0.5 0.7 0.8 0.9 0.95 (8 pixels); 0.25 -> 2 above: t = 0.8.
    const p = [scores(0.9, 0.1, 0.5), scores(0.3, 0.95), scores(0.05, 0.8, 0.7)];
    expect(thresholdAtFpr(p, 0.25)).toEqual({ threshold: f32(0.8), fpr: 0.25, pixels: 8 });
    expect(thresholdAtFpr(p, 0.3)).toEqual({ threshold: f32(0.8), fpr: 0.25, pixels: 8 });
    expect(thresholdAtFpr(p, 0.375)).toEqual({ threshold: f32(0.7), fpr: 0.375, pixels: 8 });
  });

  it('counts the allowed pixels exactly where maxFpr * n rounds down (0.29 * 100 = 28.999...)', () => {
    const p = [Float32Array.from({ length: 100 }, (_, i) => i / 100)];
    expect(0.29 * 100).toBeLessThan(29);
    // 29 of 100 may be above: 0.71 .. 0.99; t = 0.70.
    expect(thresholdAtFpr(p, 0.29)).toEqual({ threshold: f32(0.7), fpr: 0.29, pixels: 100 });
  });

  it('edge cases: maxFpr >= 1 gives 0, zeros, saturated ones, bad input', () => {
    expect(thresholdAtFpr([scores(0.1, 0.2)], 1)).toEqual({ threshold: 0, fpr: 1, pixels: 2 });
    expect(thresholdAtFpr([scores(0, 0.2)], 5)).toEqual({ threshold: 0, fpr: 0.5, pixels: 2 });
    // Half the pixels are exactly 0: t = 0 leaves the other two (2/4 <= 0.5).
    expect(thresholdAtFpr([scores(0, 0, 0, 0.5)], 0.5)).toEqual({ threshold: 0, fpr: 0.25, pixels: 4 });
    // Three of four saturate at 1: no t below 1 excludes them; t stops at the largest float32 below 1 and says so.
    expect(thresholdAtFpr([scores(1, 1, 1, 0.2)], 0.25)).toEqual({ threshold: 1 - 2 ** -24, fpr: 0.75, pixels: 4 });
    expect(thresholdAtFpr([scores(1, 0.2, 0.3, 0.4)], 0.25)).toEqual({ threshold: f32(0.4), fpr: 0.25, pixels: 4 });
    expect(() => thresholdAtFpr([], 0.1)).toThrow(/no pixels/);
    expect(() => thresholdAtFpr([scores(0.1, NaN)], 0.1)).toThrow(/pixel 1 has probability NaN/);
    expect(() => thresholdAtFpr([scores(0.1)], -0.1)).toThrow(/maxFpr/);
  });

  it('on random scores: the rate is at most maxFpr, and the next lower distinct score would exceed it', () => {
    const r = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      // Some trials draw from a few levels only, so that ties are many.
      const levels = trial % 2 ? 0 : 1 + Math.floor(r() * 6);
      const images = Array.from({ length: 1 + Math.floor(r() * 3) }, () =>
        Float32Array.from({ length: 1 + Math.floor(r() * 40) }, () => (levels ? Math.floor(r() * levels) / levels : r() * 0.999)),
      );
      const maxFpr = trial % 10 === 0 ? 0 : r() * 0.6;
      const all = images.flatMap((im) => [...im]);
      const above = (t: number) => all.filter((p) => p > t).length / all.length;
      const { threshold: t, fpr, pixels } = thresholdAtFpr(images, maxFpr);
      expect(pixels).toBe(all.length);
      expect(fpr).toBe(above(t));
      expect(fpr).toBeLessThanOrEqual(maxFpr);
      expect(t === 0 || all.includes(t)).toBe(true);
      const lower = Math.max(...all.filter((p) => p < t));
      if (t > 0) expect(above(Number.isFinite(lower) ? lower : 0), `trial ${trial}`).toBeGreaterThan(maxFpr);
    }
  });
});

describe('MetricAccumulator.atThreshold', () => {
  // Logits -2, -0.5, 0.5, 2 (probabilities 0.119, 0.378, 0.622, 0.881); defect at the 2nd and 4th pixel.
  const acc = new MetricAccumulator();
  acc.add([-2, -0.5, 0.5, 2], [0, 1, 0, 1], 4, 1);

  it('counts IoU, mIoU, Dice and F1 at a second threshold from the same scores', () => {
    // 0.3 (logit -0.847): pixels 2, 3, 4 predicted: TP 2, FP 1, FN 0, TN 1.
    expect(acc.atThreshold(0.3)).toEqual({ iou: 2 / 3, backgroundIou: 1 / 2, miou: (2 / 3 + 1 / 2) / 2, dice: 4 / 5, f1: 4 / 5 });
    // 0.5: pixels 3, 4: TP 1, FP 1, FN 1, TN 1; the same as the accumulator's own threshold.
    const half = acc.atThreshold(0.5);
    expect(half).toEqual({ iou: 1 / 3, backgroundIou: 1 / 3, miou: 1 / 3, dice: 1 / 2, f1: 1 / 2 });
    const own = acc.result();
    expect([own.iou, own.backgroundIou, own.miou, own.dice]).toEqual([half.iou, half.backgroundIou, half.miou, half.dice]);
    // 0: every pixel: TP 2, FP 2, TN 0.
    expect(acc.atThreshold(0)).toEqual({ iou: 1 / 2, backgroundIou: 0, miou: 1 / 4, dice: 2 / 3, f1: 2 / 3 });
    // 0.9 (logit 2.197): none.
    expect(acc.atThreshold(0.9)).toMatchObject({ iou: 0, dice: 0, backgroundIou: 1 / 2 });
    expect(() => acc.atThreshold(1)).toThrow(/threshold/);
  });
});

describe('runThreshold', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-threshold-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (name: string, content?: string) => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    if (content !== undefined) writeFileSync(join(d, 'threshold.json'), content);
    return d;
  };

  it("reads threshold.json, falls back to 0.5 without one (or for a weights file), and --threshold overrides", async () => {
    const good = run('good', JSON.stringify({ format: 'gpuseg-threshold/1', threshold: 0.25, maxFpr: 0.01, fpr: 0.009, images: 2, pixels: 2048, step: 3 }));
    expect(await runThreshold(good)).toEqual({ value: 0.25, source: 'threshold.json' });
    expect(await runThreshold(good, 0.7)).toEqual({ value: 0.7, source: '--threshold' });
    expect(await runThreshold(good, 0)).toEqual({ value: 0, source: '--threshold' });
    expect(await runThreshold(run('none'))).toEqual({ value: 0.5, source: 'default 0.5' });
    const weights = join(dir, 'w.safetensors');
    writeFileSync(weights, 'x');
    expect(await runThreshold(weights)).toEqual({ value: 0.5, source: 'default 0.5' });
  });

  it('refuses a bad file or value in one line naming it', async () => {
    await expect(runThreshold(run('a'), -1)).rejects.toThrow(/^--threshold must be a probability from 0 up to \(not including\) 1, got -1$/);
    await expect(runThreshold(run('b'), 1)).rejects.toThrow(/--threshold/);
    await expect(runThreshold(run('c', '{'))).rejects.toThrow(/c\/threshold\.json: not JSON/);
    await expect(runThreshold(run('d', '{"format":"x","threshold":0.3}'))).rejects.toThrow(/d\/threshold\.json: format "x"/);
    await expect(runThreshold(run('e', '{"format":"gpuseg-threshold/1","threshold":1.5}'))).rejects.toThrow(/e\/threshold\.json: 'threshold' must be a probability/);
  });
});
