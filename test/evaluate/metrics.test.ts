import { describe, expect, it } from 'vitest';
import { connectedComponents } from '../../src/data/components.js';
import { MetricAccumulator, type MetricOptions, type PixelMetrics } from '../../src/evaluate/metrics.js';
import { rng, type Rng } from '../../src/util/random.js';

interface Image {
  logits: number[];
  mask: number[];
  width: number;
  height: number;
}

/** A one-row image. */
function row(logits: number[], mask: number[]): Image {
  return { logits, mask, width: logits.length, height: 1 };
}

/** An image from mask rows of '#' (defect) and '.', with its logits in the same raster order. */
function grid(rows: string[], logits: number[]): Image {
  return { logits, mask: Array.from(rows.join(''), (c) => (c === '#' ? 1 : 0)), width: rows[0]!.length, height: rows.length };
}

function metricsOf(images: Image[], o?: MetricOptions): PixelMetrics {
  const acc = new MetricAccumulator(o);
  for (const im of images) acc.add(im.logits, im.mask, im.width, im.height);
  return acc.result();
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const DIGITS = 12;

describe('MetricAccumulator, hand-computed cases', () => {
  it('counts a tie between a defect and a background pixel as half', () => {
    // logits [2, 1, 1, 0], mask [1, 1, 0, 0]: defect {2, 1}, background {1, 0}.
    // AUROC pairs (defect, background): (2,1) win, (2,0) win, (1,1) tie = 1/2, (1,0) win -> 3.5 / 4.
    // AP: t=2 TP1 FP0 (R 1/2, P 1); t=1 TP2 FP1 (R 1, P 2/3); t=0 no recall -> 1/2 + (1/2)(2/3) = 5/6.
    // F1 = 2TP / (TP + FP + P): t=2 2/3, t=1 4/5, t=0 2/3 -> 0.8 at sigmoid(1).
    // At 0.5 (logit > 0): predicted [1, 1, 1, 0] -> TP2 FP1 FN0 TN1: IoU 2/3, background 1/2, Dice 4/5.
    const m = metricsOf([row([2, 1, 1, 0], [1, 1, 0, 0])]);
    expect(m.auroc).toBeCloseTo(0.875, DIGITS);
    expect(m.ap).toBeCloseTo(5 / 6, DIGITS);
    expect(m.f1Max).toBeCloseTo(0.8, DIGITS);
    expect(m.f1MaxThreshold).toBeCloseTo(sigmoid(1), DIGITS);
    expect(m.iou).toBeCloseTo(2 / 3, DIGITS);
    expect(m.backgroundIou).toBeCloseTo(1 / 2, DIGITS);
    expect(m.miou).toBeCloseTo(7 / 12, DIGITS);
    expect(m.dice).toBeCloseTo(4 / 5, DIGITS);
    // One region {0, 1}, 2 background pixels. PRO curve: (0,0), t=2 (0, 1/2), t=1 (1/2, 1), t=0 (1, 1).
    // At FPR 0.3 on the segment (0, 1/2)-(1/2, 1): PRO = 1/2 + (1/2)(0.3 / 0.5) = 0.8;
    // area = 0.3 (1/2 + 0.8) / 2 = 0.195; / 0.3 = 0.65.
    expect(m.aupro).toBeCloseTo(0.65, DIGITS);
    expect([m.pixels, m.defectPixels, m.regions, m.images]).toEqual([4, 2, 1, 1]);
  });

  it('groups tied defect scores into one threshold for AP', () => {
    // logits [3, 3, 4, 0], mask [1, 1, 0, 0]: the two defect pixels tie at 3, below a background 4.
    // Grouped: t=4 TP0 FP1; t=3 TP2 FP1 (R 1, P 2/3) -> AP 2/3. (One pixel at a time would give
    // (1/2)(1/2) + (1/2)(2/3) = 7/12.) AUROC: each 3 loses to 4 and beats 0 -> 2/4.
    // F1: t=4 0, t=3 4/5, t=0 2/3 -> 0.8 at sigmoid(3).
    const m = metricsOf([row([3, 3, 4, 0], [1, 1, 0, 0])]);
    expect(m.ap).toBeCloseTo(2 / 3, DIGITS);
    expect(m.auroc).toBeCloseTo(0.5, DIGITS);
    expect(m.f1Max).toBeCloseTo(0.8, DIGITS);
    expect(m.f1MaxThreshold).toBeCloseTo(sigmoid(3), DIGITS);
  });

  it('pools a defect-free image with a defect image', () => {
    // Good 2x2, logits [1, -1, -1, -2]; defect 2x2 with mask [1, 0, 0, 0], logits [2, 1, -1, -1].
    // At 0.5: good gives FP1 TN3; defect gives TP1 FP1 TN2 -> TP1 FP2 FN0 TN5:
    // IoU 1/3, background 5/7, mIoU (1/3 + 5/7) / 2 = 11/21, Dice 2 / 4.
    // The only defect pixel (2) outranks all 7 background ones: AUROC 1, AP 1, F1-max 1 at sigmoid(2),
    // and PRO is 1 from FPR 0 on: AUPRO 1.
    const m = metricsOf([
      grid(['..', '..'], [1, -1, -1, -2]),
      grid(['#.', '..'], [2, 1, -1, -1]),
    ]);
    expect(m.iou).toBeCloseTo(1 / 3, DIGITS);
    expect(m.backgroundIou).toBeCloseTo(5 / 7, DIGITS);
    expect(m.miou).toBeCloseTo(11 / 21, DIGITS);
    expect(m.dice).toBeCloseTo(0.5, DIGITS);
    expect([m.auroc, m.ap, m.f1Max, m.aupro]).toEqual([1, 1, 1, 1]);
    expect(m.f1MaxThreshold).toBeCloseTo(sigmoid(2), DIGITS);
    expect([m.pixels, m.defectPixels, m.regions, m.images]).toEqual([8, 1, 1, 2]);
  });

  it('scores an all-defect image beside a defect-free one', () => {
    // All-defect 2x2, logits [1, -1, 2, 3] (one region of 4); good 1x2, logits [0, 2].
    // AUROC: background 2 vs defect {3, 2, 1, -1}: 1 + 1/2 = 1.5; background 0: 3 wins -> 4.5 / 8.
    // AP (P = 4): t=3 TP1 FP0, t=2 TP2 FP1, t=1 TP3 FP1, t=0 FP2, t=-1 TP4 FP2
    //   -> (1/4)(1 + 2/3 + 3/4 + 4/6) = 37/48.
    // F1 = 2TP / (TP + FP + 4): 2/5, 4/7, 6/8, 6/9, 8/10 -> 0.8 at t=-1, a probability below 0.5.
    // At 0.5: defect TP3 FN1; good: 0 is not > 0 (TN), 2 is FP -> IoU 3/5, background 1/3, Dice 6/8.
    // PRO = TP/4, FPR = FP/2: (0,0), (0, 1/4), (1/2, 1/2), (1/2, 3/4), (1, 3/4), (1, 1).
    // At 0.3 on (0, 1/4)-(1/2, 1/2): 1/4 + (1/4)(0.6) = 0.4; area 0.3 (1/4 + 0.4) / 2 = 0.0975 -> 0.325.
    const m = metricsOf([grid(['##', '##'], [1, -1, 2, 3]), row([0, 2], [0, 0])]);
    expect(m.auroc).toBeCloseTo(4.5 / 8, DIGITS);
    expect(m.ap).toBeCloseTo(37 / 48, DIGITS);
    expect(m.f1Max).toBeCloseTo(0.8, DIGITS);
    expect(m.f1MaxThreshold).toBeCloseTo(sigmoid(-1), DIGITS);
    expect(m.iou).toBeCloseTo(0.6, DIGITS);
    expect(m.backgroundIou).toBeCloseTo(1 / 3, DIGITS);
    expect(m.dice).toBeCloseTo(0.75, DIGITS);
    expect(m.aupro).toBeCloseTo(0.325, DIGITS);
    expect(m.regions).toBe(1);
  });

  it('averages PRO per region, not per pixel, with a single-pixel region', () => {
    // Regions: A = the 2x2 block (4 pixels), B = the single pixel at row 1, column 3 (column 2 between).
    // Logits: one pixel of A and B at 3, the rest of A at -3; background (0,2), (0,3), (1,2) at 0, -5, -5.
    // t=3: A 1/4, B 1 -> PRO (1/4 + 1) / 2 = 5/8 (per pixel it would be 2/5) at FPR 0;
    // t=0: FPR 1/3, PRO 5/8; t=-3: PRO 1. FPR 0.3 < 1/3 falls on the flat part: area 0.3 (5/8) -> 5/8.
    const m = metricsOf([grid(['##..', '##.#'], [3, -3, 0, -5, -3, -3, -5, 3])]);
    expect(m.regions).toBe(2);
    expect(m.defectPixels).toBe(5);
    expect(m.aupro).toBeCloseTo(5 / 8, DIGITS);
  });

  it('integrates AUPRO by the trapezoid rule and interpolates at FPR 0.3, over all background pixels', () => {
    // Defect image 1x7, mask [1,1,0,0,0,0,0] (one region of 2), logits [5, 1, 4, 4, -1, -1, -1];
    // good image 1x5, logits [1, 1, -2, -2, -2]. 10 background pixels in all, the good image's included.
    // t=5: (FPR 0, PRO 1/2); t=4: (2/10, 1/2); t=1: one defect and the good image's two -> (4/10, 1).
    // Area to 0.3: (0,0)-(0,1/2) is 0 wide; (0,1/2)-(0.2,1/2): 0.1; at 0.3 on (0.2,1/2)-(0.4,1):
    // PRO = 3/4, area 0.1 (1/2 + 3/4) / 2 = 0.0625. Total 0.1625 / 0.3 = 0.541666...
    const images = [row([5, 1, 4, 4, -1, -1, -1], [1, 1, 0, 0, 0, 0, 0]), row([1, 1, -2, -2, -2], [0, 0, 0, 0, 0])];
    expect(metricsOf(images).aupro).toBeCloseTo(0.1625 / 0.3, DIGITS);
    // With the limit at 0.2 the curve is cut at a point: 0.1 / 0.2.
    expect(metricsOf(images, { proFprLimit: 0.2 }).aupro).toBeCloseTo(0.5, DIGITS);
  });

  it('reports the F1-max threshold as a float64 probability, unsaturated', () => {
    // sigmoid(20) = 1 - 2.1e-9 rounds to 1 in float32 but not in float64.
    const m = metricsOf([row([20, 19], [1, 0])]);
    expect(m.f1Max).toBe(1);
    expect(m.f1MaxThreshold).toBe(1 / (1 + Math.exp(-20)));
    expect(m.f1MaxThreshold).toBeLessThan(1);
  });

  it('predicts defect strictly above the threshold', () => {
    // Logit 0 is probability 0.5 exactly: not predicted. TP0 FN1 FP0 TN1 -> IoU 0, background 1/2.
    const m = metricsOf([row([0, 0], [1, 0])]);
    expect([m.iou, m.backgroundIou, m.dice]).toEqual([0, 0.5, 0]);
    expect(metricsOf([row([1e-6, 0], [1, 0])]).iou).toBe(1);
    // threshold 0.8 is logit log(4) = 1.386: logit 1.3 (p 0.786) is not predicted, 1.4 (p 0.802) is.
    const high = metricsOf([row([1.4, 1.3], [1, 1])], { threshold: 0.8 });
    expect(high.iou).toBe(0.5);
  });

  it('gives NaN where a metric is undefined', () => {
    const empty = new MetricAccumulator().result();
    for (const k of ['iou', 'backgroundIou', 'miou', 'dice', 'auroc', 'ap', 'f1Max', 'f1MaxThreshold', 'aupro'] as const) {
      expect(empty[k]).toBeNaN();
    }
    expect([empty.pixels, empty.images]).toEqual([0, 0]);
    // Background only, nothing predicted: TP + FP + FN = 0, and no positives for the curves.
    const good = metricsOf([row([-1, -2, -3], [0, 0, 0])]);
    expect([good.iou, good.dice, good.miou, good.auroc, good.ap, good.f1Max, good.f1MaxThreshold, good.aupro].every(Number.isNaN)).toBe(true);
    expect(good.backgroundIou).toBe(1);
    // Defect only, all predicted: TN + FN + FP = 0, and no negatives for the curves.
    const defect = metricsOf([row([1, 2], [1, 1])]);
    expect([defect.backgroundIou, defect.miou, defect.auroc, defect.ap, defect.f1Max, defect.aupro].every(Number.isNaN)).toBe(true);
    expect(defect.iou).toBe(1);
  });

  it('rejects bad inputs with one-line errors and keeps its state', () => {
    const acc = new MetricAccumulator();
    expect(() => acc.add([1, 2, 3], [0, 1], 3, 1)).toThrow(/^metrics: 3 logits for a mask of 2 pixels$/);
    expect(() => acc.add([1, 2], [0, 1], 3, 1)).toThrow(/2 logits for a 3x1 image/);
    expect(() => acc.add([1, NaN], [0, 1], 2, 1)).toThrow(/logit 1 is NaN/);
    expect(() => acc.add([Infinity, 0], [0, 1], 2, 1)).toThrow(/logit 0 is Infinity/);
    expect(() => acc.add([], [], 0, 0)).toThrow(/bad image size 0x0/);
    expect(() => new MetricAccumulator({ threshold: 1 })).toThrow(/threshold/);
    expect(() => new MetricAccumulator({ proFprLimit: 0 })).toThrow(/proFprLimit/);
    expect(acc.result().images).toBe(0);
  });
});

// A second, plain implementation: every pair for AUROC, every distinct threshold counted from scratch.
interface Pixel {
  score: number;
  defect: boolean;
  /** Global region id, -1 for background. */
  region: number;
}

function reference(images: Image[], threshold = 0.5, limit = 0.3): PixelMetrics {
  const pixels: Pixel[] = [];
  const regionSizes: number[] = [];
  for (const im of images) {
    const c = connectedComponents(im.mask, im.width, im.height);
    const base = regionSizes.length;
    regionSizes.push(...c.sizes);
    im.logits.forEach((score, i) => pixels.push({ score, defect: im.mask[i] === 1, region: c.labels[i] ? base + c.labels[i]! - 1 : -1 }));
  }
  const pos = pixels.filter((p) => p.defect);
  const neg = pixels.filter((p) => !p.defect);
  const count = (list: Pixel[], f: (p: Pixel) => boolean) => list.filter(f).length;

  const predicted = (p: Pixel) => sigmoid(p.score) > threshold;
  const tp = count(pos, predicted);
  const fp = count(neg, predicted);
  const fn = pos.length - tp;
  const tn = neg.length - fp;
  const div = (a: number, b: number) => (b === 0 ? NaN : a / b);
  const iou = div(tp, tp + fp + fn);
  const backgroundIou = div(tn, tn + fn + fp);

  let auroc = NaN;
  let ap = NaN;
  let f1Max = NaN;
  let f1MaxThreshold = NaN;
  let aupro = NaN;
  if (pos.length > 0 && neg.length > 0) {
    let wins = 0;
    for (const p of pos) for (const n of neg) wins += p.score > n.score ? 1 : p.score === n.score ? 0.5 : 0;
    auroc = wins / (pos.length * neg.length);

    const thresholds = [...new Set(pixels.map((p) => p.score))].sort((a, b) => b - a);
    const points = [{ fpr: 0, pro: 0 }];
    ap = 0;
    f1Max = -1;
    let lastRecall = 0;
    for (const t of thresholds) {
      const tpT = count(pos, (p) => p.score >= t);
      const fpT = count(neg, (p) => p.score >= t);
      const recall = tpT / pos.length;
      ap += (recall - lastRecall) * (tpT / (tpT + fpT));
      lastRecall = recall;
      const f1 = (2 * tpT) / (2 * tpT + fpT + (pos.length - tpT));
      if (f1 > f1Max) [f1Max, f1MaxThreshold] = [f1, sigmoid(t)];
      const overlaps = regionSizes.map((size, r) => count(pos, (p) => p.region === r && p.score >= t) / size);
      points.push({ fpr: fpT / neg.length, pro: overlaps.reduce((a, b) => a + b, 0) / regionSizes.length });
    }
    aupro = trapezoidUpTo(points, limit) / limit;
  }
  return {
    iou,
    backgroundIou,
    miou: (iou + backgroundIou) / 2,
    dice: div(2 * tp, 2 * tp + fp + fn),
    auroc,
    ap,
    f1Max,
    f1MaxThreshold,
    aupro,
    pixels: pixels.length,
    defectPixels: pos.length,
    regions: regionSizes.length,
    images: images.length,
  };
}

/** MVTec's way: keep the points below the limit, add the interpolated point at it, then the plain trapezoid. */
function trapezoidUpTo(points: { fpr: number; pro: number }[], limit: number): number {
  const cut = points.findIndex((p) => p.fpr >= limit);
  const kept = points.slice(0, cut);
  const a = points[cut - 1]!;
  const b = points[cut]!;
  kept.push({ fpr: limit, pro: a.pro + ((b.pro - a.pro) * (limit - a.fpr)) / (b.fpr - a.fpr) });
  let area = 0;
  for (let k = 1; k < kept.length; k++) area += ((kept[k]!.fpr - kept[k - 1]!.fpr) * (kept[k]!.pro + kept[k - 1]!.pro)) / 2;
  return area;
}

/** A small image, defect-free with probability 1/3, with blobby masks and logits on a coarse grid (ties). */
function randomImage(r: Rng): Image {
  const width = 1 + Math.floor(r() * 6);
  const height = 1 + Math.floor(r() * 6);
  const good = r() < 1 / 3;
  const density = r();
  const mask = Array.from({ length: width * height }, () => (!good && r() < density ? 1 : 0));
  // Defect pixels score a little higher on average, so the curves are neither perfect nor random.
  const logits = mask.map((m) => Math.round((r() * 4 - 2 + m) * 2) / 2);
  return { logits, mask, width, height };
}

function expectMatch(actual: PixelMetrics, expected: PixelMetrics, label: string): void {
  for (const key of Object.keys(expected) as (keyof PixelMetrics)[]) {
    const [a, e] = [actual[key], expected[key]];
    if (Number.isNaN(e)) expect(a, `${label} ${key}`).toBeNaN();
    else expect(a, `${label} ${key}`).toBeCloseTo(e, DIGITS);
  }
}

describe('MetricAccumulator against the plain reference', () => {
  it('agrees on random images with frequent ties, some defect-free', () => {
    const r = rng(20240611);
    const thresholds = [0.5, 0.3, 0.8];
    const limits = [0.3, 0.05, 1];
    for (let trial = 0; trial < 300; trial++) {
      const images = Array.from({ length: 1 + Math.floor(r() * 5) }, () => randomImage(r));
      const threshold = thresholds[trial % thresholds.length]!;
      const proFprLimit = limits[Math.floor(trial / thresholds.length) % limits.length]!;
      expectMatch(metricsOf(images, { threshold, proFprLimit }), reference(images, threshold, proFprLimit), `trial ${trial}`);
    }
  });

  it('gives the same result when asked twice, and keeps accumulating after result()', () => {
    const r = rng(7);
    const images = Array.from({ length: 6 }, () => randomImage(r));
    images[0]!.mask[0] = 1; // at least one defect pixel
    images[1]!.mask.fill(0);
    const acc = new MetricAccumulator();
    images.slice(0, 3).forEach((im) => acc.add(im.logits, im.mask, im.width, im.height));
    expectMatch(acc.result(), reference(images.slice(0, 3)), 'first half');
    expectMatch(acc.result(), reference(images.slice(0, 3)), 'first half, again');
    images.slice(3).forEach((im) => acc.add(Float32Array.from(im.logits), Uint8Array.from(im.mask), im.width, im.height));
    expectMatch(acc.result(), reference(images), 'all');
  });

  it('grows its storage past the initial capacity', () => {
    // 300x300 = 90,000 pixels, more than one initial block; a mask of one 100x100 square.
    const size = 300;
    const r = rng(3);
    const mask = Array.from({ length: size * size }, (_, i) => (i % size < 100 && i < 100 * size ? 1 : 0));
    const logits = mask.map((m) => Math.round((r() * 4 - 2 + 2 * m) * 4) / 4);
    const acc = new MetricAccumulator();
    acc.add(logits, mask, size, size);
    acc.add(logits, mask, size, size);
    const m = acc.result();
    expect([m.pixels, m.defectPixels, m.regions]).toEqual([2 * size * size, 2 * 100 * 100, 2]);
    // AUROC by counting over the few distinct scores: each background pixel wins against the defect
    // pixels above it and half of those tied with it (the second copy of the image changes nothing).
    const defectsAt = new Map<number, number>();
    const background: number[] = [];
    logits.forEach((v, i) => (mask[i] ? defectsAt.set(v, (defectsAt.get(v) ?? 0) + 1) : background.push(v)));
    let wins = 0;
    for (const n of background) for (const [v, k] of defectsAt) wins += v > n ? k : v === n ? k / 2 : 0;
    const pairs = 100 * 100 * background.length;
    expect(m.auroc).toBeCloseTo(wins / pairs, DIGITS);
  });
});
