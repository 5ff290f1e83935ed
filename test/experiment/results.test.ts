// The experiment's summary: paired gains over the baseline on the same split seeds (IoU, AP, F1-max) and
// each variant's cost per step, against values worked by hand.
import { describe, expect, it } from 'vitest';
import { type CellResult, markdownTable, summarize } from '../../src/experiment/results.js';
import type { PixelMetrics } from '../../src/evaluate/metrics.js';

function metrics(iou: number, ap: number, f1Max: number): PixelMetrics {
  return { iou, backgroundIou: 0.9, miou: (iou + 0.9) / 2, dice: 0, auroc: 0.9, ap, f1Max, f1MaxThreshold: 0.5, aupro: 0.8 } as PixelMetrics;
}

const cell = (variant: string, splitSeed: number, m: PixelMetrics | null, seconds: number | null, iouAt?: number, imagesPerStep?: number): CellResult => ({
  variant, shots: 5, splitSeed, run: `cells/${variant}-${splitSeed}`, overall: m, perType: m ? {} : null, seconds,
  ...(imagesPerStep === undefined ? {} : { imagesPerStep }),
  ...(iouAt === undefined ? {} : { atThreshold: { threshold: 0.3, iou: iouAt, backgroundIou: 0.9, miou: (iouAt + 0.9) / 2, dice: 0, f1: 0 } }),
});

describe('summarize', () => {
  const cells = [
    cell('baseline', 0, metrics(0.5, 0.6, 0.7), 100, 0.2, 4),
    cell('baseline', 1, metrics(0.4, 0.5, 0.6), 120, 0.1, 4),
    // Finished before the run's threshold was recorded: no IoU at it, and no pair for it.
    cell('baseline', 2, metrics(0.3, 0.4, 0.5), 110),
    cell('full+pre', 0, metrics(0.6, 0.65, 0.7), 150, 0.25, 8),
    cell('full+pre', 1, metrics(0.6, 0.45, 0.75), 170, 0.05, 8),
    // Not finished: counted neither in the metrics nor in the cost.
    cell('full+pre', 2, null, null),
  ];
  const [base, pre] = summarize(cells, ['baseline', 'full+pre'], [5], 10);

  it('pairs each variant with the baseline on the same split seed', () => {
    expect(pre!.seeds).toBe(2);
    // IoU: +0.1 and +0.2: mean 0.15, sample std sqrt(((-0.05)^2 + 0.05^2) / 1) = 0.0707...
    expect(pre!.iouGain.mean).toBeCloseTo(0.15, 12);
    expect(pre!.iouGain.std).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    // AP: +0.05 and -0.05.
    expect(pre!.apGain.mean).toBeCloseTo(0, 12);
    expect(pre!.apGain.std).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    // F1-max: 0 and +0.15.
    expect(pre!.f1MaxGain.mean).toBeCloseTo(0.075, 12);
    expect(base!.iouGain.mean).toBe(0);
  });

  it("pairs the IoU at each run's own threshold where both cells have it", () => {
    // Baseline: 0.2 and 0.1 (seed 2 has none): mean 0.15, std sqrt(2 * 0.05^2) = 0.0707...
    expect(base!.iouAtThreshold.mean).toBeCloseTo(0.15, 12);
    expect(base!.iouAtThreshold.std).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    // full+pre: 0.25 and 0.05, gains +0.05 and -0.05: mean 0, std 0.0707...
    expect(pre!.iouAtThreshold.mean).toBeCloseTo(0.15, 12);
    expect(pre!.iouAtThreshold.std).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    expect(pre!.iouAtThresholdGain.mean).toBeCloseTo(0, 12);
    expect(pre!.iouAtThresholdGain.std).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    const [, none] = summarize([cell('baseline', 0, metrics(0.5, 0.6, 0.7), 100), cell('cpw', 0, metrics(0.5, 0.6, 0.7), 100)], ['baseline', 'cpw'], [5], 10);
    expect(none!.iouAtThreshold).toEqual({ mean: null, std: null });
    expect(none!.iouAtThresholdGain).toEqual({ mean: null, std: null });
  });

  it("gives each variant's training seconds per step over its finished cells", () => {
    expect(base!.secondsPerStep).toBeCloseTo((100 + 120 + 110) / 30, 12);
    expect(pre!.secondsPerStep).toBeCloseTo((150 + 170) / 20, 12);
    // Images per step over the cells that record it (baseline seed 2 does not).
    expect(base!.imagesPerStep).toBe(4);
    expect(pre!.imagesPerStep).toBe(8);
    expect(summarize([cell('baseline', 0, metrics(0.5, 0.6, 0.7), 100)], ['baseline'], [5], 10)[0]!.imagesPerStep).toBeNull();
  });

  it('writes the gains and the cost into the Markdown table', () => {
    const md = markdownTable([base!, pre!], { size: 64, steps: 10 });
    const row = md.split('\n').find((l) => l.startsWith('| full+pre '))!;
    // IoU thr 0.25 and 0.05: 0.150 ± 0.141; its gain sums to about -1e-17 and reads +0.000.
    expect(row).toContain('| 0.150 ± 0.141 | +0.150 ± 0.071 | +0.000 ± 0.071 | +0.000 ± 0.071 | +0.075 ± 0.106 | 16.00 | 8 |');
    expect(md).toContain('| IoU thr | IoU vs baseline | IoU thr vs baseline | AP vs baseline | F1-max vs baseline | s/step | img/step |');
  });
});
