// The reports' numeric and parsing helpers, against values worked out by hand.
import { describe, expect, it } from 'vitest';
import { parseRunLog } from '../../src/report/formats.js';
import {
  binMeans,
  formatMeanStd,
  formatMetric,
  formatTick,
  logTicks,
  niceDomain,
  niceStep,
  niceTicks,
} from '../../src/report/numbers.js';
import { maskOutline } from '../../src/report/samples.js';
import { bestMeans } from '../../src/report/summary.js';
import { lineChart } from '../../src/report/svg.js';

describe('axis ticks', () => {
  it('picks 1-2-5 steps', () => {
    expect(niceStep(1, 5)).toBe(0.2); // rough 0.2 -> residual 2 -> 2
    expect(niceStep(2000, 5)).toBe(500); // rough 400 -> residual 4 -> 5
    expect(niceStep(0.74, 5)).toBe(0.1); // rough 0.148 -> residual 1.48 -> 1
    expect(niceStep(90, 5)).toBe(20); // rough 18 -> residual 1.8 -> 2
    expect(niceStep(8, 1)).toBe(10); // rough 8 -> residual 8 -> 10
  });

  it('lists the multiples of the step inside the range, without float noise', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 400, 6)).toEqual([50, 100, 150, 200, 250, 300, 350, 400]); // rough 66.5 -> 50
    expect(niceTicks(0.13, 0.87, 5)).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    expect(niceTicks(0.5, 0.5, 5)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7]); // constant: widened to [0.25, 0.75], step 0.1
  });

  it('widens a linear domain to whole steps', () => {
    expect(niceDomain(0.13, 0.87, 5)).toEqual([0.1, 0.9]);
    expect(niceDomain(0, 0.47, 5)).toEqual([0, 0.5]); // rough 0.094 -> step 0.1
    expect(niceDomain(-3, 7, 5)).toEqual([-4, 8]); // step 2
  });

  it('ticks a log axis at 1-2-5 over two decades or less, at decades beyond', () => {
    expect(logTicks(0.04, 0.9)).toEqual([0.05, 0.1, 0.2, 0.5]);
    expect(logTicks(0.001, 10)).toEqual([0.001, 0.01, 0.1, 1, 10]);
    expect(logTicks(0.02, 1.5)).toEqual([0.02, 0.05, 0.1, 0.2, 0.5, 1]); // 1.9 decades: still 1-2-5
    // 8 decades: every second one, so that about six remain.
    expect(logTicks(1e-6, 100)).toEqual([1e-6, 0.0001, 0.01, 1, 100]);
    expect(() => logTicks(0, 1)).toThrow(/0 < min/);
  });

  it('formats tick labels', () => {
    expect(formatTick(0.2, 0.2)).toBe('0.2');
    expect(formatTick(1500, 500)).toBe('1500');
    expect(formatTick(0.05, 0.05)).toBe('0.05');
    expect(formatTick(0, 0.1)).toBe('0');
    expect(formatTick(0.001)).toBe('0.001');
    expect(formatTick(0.0002)).toBe('2e-4');
    expect(formatTick(200000)).toBe('2e5');
  });
});

describe('downsampling', () => {
  const points = Array.from({ length: 10 }, (_, i) => ({ x: i + 1, y: (i + 1) * 10 }));

  it('replaces runs of equal length by their means', () => {
    expect(binMeans(points, 5)).toEqual([
      { x: 1.5, y: 15 },
      { x: 3.5, y: 35 },
      { x: 5.5, y: 55 },
      { x: 7.5, y: 75 },
      { x: 9.5, y: 95 },
    ]);
    // ceil(10 / 4) = 3 per bin: (1,2,3), (4,5,6), (7,8,9), (10).
    expect(binMeans(points, 4).map((p) => p.x)).toEqual([2, 5, 8, 10]);
  });

  it('keeps short series as they are', () => {
    expect(binMeans(points, 10)).toEqual(points);
    expect(binMeans([], 3)).toEqual([]);
  });
});

describe('metric formatting', () => {
  it('writes mean ± std with three decimals, the mean alone without a std', () => {
    expect(formatMeanStd(0.51234, 0.0316)).toBe('0.512 ± 0.032');
    expect(formatMeanStd(0.5, null)).toBe('0.500');
    expect(formatMeanStd(null, 0.1)).toBe('—');
    expect(formatMetric(0.98765)).toBe('0.988');
    expect(formatMetric(null)).toBe('—');
    expect(formatMetric(Number.NaN)).toBe('—');
  });

  it('finds the best mean per column, ignoring nulls', () => {
    const row = (iou: number | null, ap: number | null) => ({
      variant: 'v', shots: 1, seeds: 2,
      mean: { iou, miou: 0.5, dice: null, auroc: 0.9, ap, f1Max: 0.6, aupro: 0.7 },
      std: { iou: 0, miou: 0, dice: 0, auroc: 0, ap: 0, f1Max: 0, aupro: 0 },
    });
    const best = bestMeans([row(0.3, null), row(0.45, 0.6), row(null, 0.2)]);
    expect(best.iou).toBe(0.45);
    expect(best.ap).toBe(0.6);
    expect(best.dice).toBeNull();
  });
});

describe('log parsing', () => {
  it('keeps step and validation lines and skips what does not parse', () => {
    const text = [
      '{"step": 1, "loss": 0.7, "seg": 0.5, "bg": null, "feat": 0.2, "pasteWeight": null}',
      '{"step": 2, "loss": 0.6, "seg": 0.45, "bg": 0.1, "feat": null, "pasteWeight": 0.8}',
      '{"step": 2, "validationFalsePositiveRate": 0.01}',
      'not json',
      '{"note": "no step"}',
      '{"step": 3, "lo',
    ].join('\n');
    const log = parseRunLog(text);
    expect(log.steps.map((s) => [s.step, s.loss, s.bg, s.pasteWeight])).toEqual([
      [1, 0.7, null, null],
      [2, 0.6, 0.1, 0.8],
    ]);
    expect(log.validation).toEqual([{ step: 2, falsePositiveRate: 0.01 }]);
    expect(log.skipped).toBe(3);
  });
});

describe('pictures and charts', () => {
  it('outlines a mask from the inside, closing it at the image border', () => {
    // 4x4 with a 3x3 block in the top-left corner: only its inner corner pixel (1,1) is not on the outline.
    const mask = Uint8Array.from([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(maskOutline(mask, 4))).toEqual([1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(maskOutline(mask, 4, 2))).toEqual(Array.from(mask));
  });

  it('draws nothing for empty series and switches to a log axis only over a decade', () => {
    const spec = { title: 't', xLabel: 'step', yLabel: 'loss', yScale: 'auto' as const };
    expect(lineChart({ ...spec, series: [{ name: 'a', color: '#000', points: [] }] })).toBeNull();
    const wide = lineChart({ ...spec, series: [{ name: 'a', color: '#000', points: [{ x: 0, y: 1 }, { x: 1, y: 0.05 }] }] });
    expect(wide).toContain('(log scale)');
    const narrow = lineChart({ ...spec, series: [{ name: 'a', color: '#000', points: [{ x: 0, y: 0.7 }, { x: 1, y: 0.3 }] }] });
    expect(narrow).not.toContain('(log scale)');
  });
});
