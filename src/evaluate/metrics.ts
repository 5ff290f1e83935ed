// Pixel-level segmentation metrics (METHOD.md), host-side, at evaluation only: defect IoU, background
// IoU, mIoU and Dice at a threshold, and the exact threshold-free pixel AUROC, average precision, F1-max
// and AUPRO (MVTec AD's convention). Scores are logits: sigmoid is monotonic, so every ranking is the
// same, but float32 probabilities saturate near 0 and 1 and would merge distinct scores into ties.
import { connectedComponents } from '../data/components.js';

export interface PixelMetrics {
  /** At the threshold, pooled over all pixels: TP / (TP + FP + FN). */
  iou: number;
  /** TN / (TN + FN + FP). */
  backgroundIou: number;
  /** (iou + backgroundIou) / 2. */
  miou: number;
  /** 2TP / (2TP + FP + FN). */
  dice: number;
  /** Pixel AUROC; a tie between a defect and a background pixel counts half. */
  auroc: number;
  /** Average precision: sum over distinct thresholds of (recall gained) * precision, ties grouped. */
  ap: number;
  /** Best F1 over all distinct thresholds t, predicting defect for score >= t. */
  f1Max: number;
  /** The threshold of f1Max as a probability, sigmoid(t) in float64. */
  f1MaxThreshold: number;
  /** Area under the PRO curve up to the FPR limit (0.3 by default), divided by that limit. */
  aupro: number;
  pixels: number;
  defectPixels: number;
  /** 8-connected ground-truth regions over all images. */
  regions: number;
  images: number;
}

/** The metrics a table of results shows, in order, with their column titles (eval, experiment, report). */
export const METRIC_COLUMNS = [
  { key: 'iou', name: 'IoU' },
  { key: 'miou', name: 'mIoU' },
  { key: 'dice', name: 'Dice' },
  { key: 'auroc', name: 'AUROC' },
  { key: 'ap', name: 'AP' },
  { key: 'f1Max', name: 'F1-max' },
  { key: 'aupro', name: 'AUPRO' },
] as const satisfies readonly { key: keyof PixelMetrics; name: string }[];
export type MetricKey = (typeof METRIC_COLUMNS)[number]['key'];

export interface MetricOptions {
  /** Probability above which (strictly) a pixel is predicted defect; default 0.5. */
  threshold?: number;
  /** FPR up to which AUPRO integrates; default 0.3, MVTec AD's. */
  proFprLimit?: number;
}

const DEFAULT_THRESHOLD = 0.5;
const DEFAULT_PRO_FPR_LIMIT = 0.3;
/** Storage starts at one 256x256 image and doubles, so ~7 million pixels take ~7 reallocations. */
const INITIAL_CAPACITY = 1 << 16;

/**
 * Accumulates, image by image, the confusion counts at the threshold and every score (background
 * pixels' scores alone; defect pixels' scores with their region's weight), sorted once in result().
 */
export class MetricAccumulator {
  private readonly thresholdLogit: number;
  private readonly proFprLimit: number;
  private readonly negatives = new GrowableFloat64();
  private readonly positives = new GrowableFloat64();
  /** Per defect pixel, 1 / (size of its region): summed over detected pixels, sum over regions of overlap. */
  private readonly positiveWeights = new GrowableFloat64();
  private tp = 0;
  private fp = 0;
  private fn = 0;
  private tn = 0;
  private regions = 0;
  private images = 0;

  constructor(o: MetricOptions = {}) {
    const threshold = o.threshold ?? DEFAULT_THRESHOLD;
    const limit = o.proFprLimit ?? DEFAULT_PRO_FPR_LIMIT;
    if (!(threshold >= 0 && threshold < 1)) throw new Error(`metrics: threshold must be a probability in [0, 1), got ${threshold}`);
    if (!(limit > 0 && limit <= 1)) throw new Error(`metrics: proFprLimit must be in (0, 1], got ${limit}`);
    this.thresholdLogit = logitOf(threshold);
    this.proFprLimit = limit;
  }

  /** One image: logits and mask (non-zero = defect) are width*height, row-major. */
  add(logits: ArrayLike<number>, mask: ArrayLike<number>, width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new Error(`metrics: bad image size ${width}x${height}`);
    }
    const pixels = width * height;
    if (logits.length !== mask.length) throw new Error(`metrics: ${logits.length} logits for a mask of ${mask.length} pixels`);
    if (logits.length !== pixels) throw new Error(`metrics: ${logits.length} logits for a ${width}x${height} image (${pixels} pixels)`);
    for (let i = 0; i < pixels; i++) {
      if (!Number.isFinite(logits[i])) throw new Error(`metrics: logit ${i} is ${logits[i]}, not finite`);
    }
    // Everything is checked before anything is stored: a failed add leaves the accumulator as it was.
    const { labels, count, sizes } = connectedComponents(mask, width, height);
    for (let i = 0; i < pixels; i++) {
      const score = logits[i]!;
      const predicted = score > this.thresholdLogit;
      const label = labels[i]!;
      if (label > 0) {
        this.positives.push(score);
        this.positiveWeights.push(1 / sizes[label - 1]!);
        if (predicted) this.tp++;
        else this.fn++;
      } else {
        this.negatives.push(score);
        if (predicted) this.fp++;
        else this.tn++;
      }
    }
    this.regions += count;
    this.images++;
  }

  result(): PixelMetrics {
    const { tp, fp, fn, tn } = this;
    const iou = ratio(tp, tp + fp + fn);
    const backgroundIou = ratio(tn, tn + fn + fp);
    return {
      iou,
      backgroundIou,
      miou: (iou + backgroundIou) / 2,
      dice: ratio(2 * tp, 2 * tp + fp + fn),
      ...this.rankingMetrics(),
      pixels: tp + fp + fn + tn,
      defectPixels: tp + fn,
      regions: this.regions,
      images: this.images,
    };
  }

  /**
   * IoU, mIoU and Dice (F1) at another threshold, counted from the scores kept so far: a second
   * threshold costs one pass over them, not a second accumulator.
   */
  atThreshold(threshold: number): ThresholdMetrics {
    if (!(threshold >= 0 && threshold < 1)) throw new Error(`metrics: threshold must be a probability in [0, 1), got ${threshold}`);
    const cut = logitOf(threshold);
    const tp = countAbove(this.positives.view(), cut);
    const fp = countAbove(this.negatives.view(), cut);
    const fn = this.positives.length - tp;
    const tn = this.negatives.length - fp;
    const iou = ratio(tp, tp + fp + fn);
    const backgroundIou = ratio(tn, tn + fn + fp);
    const dice = ratio(2 * tp, 2 * tp + fp + fn);
    return { iou, backgroundIou, miou: (iou + backgroundIou) / 2, dice, f1: dice };
  }

  /**
   * One walk over the distinct scores, highest first, with both sorted lists: at each threshold t the
   * defect (dp, weight dw) and background (dn) pixels scoring exactly t join the predicted set together.
   */
  private rankingMetrics(): RankingMetrics {
    const totalPos = this.positives.length;
    const totalNeg = this.negatives.length;
    if (totalPos === 0 || totalNeg === 0) return { auroc: NaN, ap: NaN, f1Max: NaN, f1MaxThreshold: NaN, aupro: NaN };
    const pos = this.sortedPositives();
    // Ascending in place (the storage order means nothing), walked from the end.
    const neg = this.negatives.view().sort();
    const pro = new ClippedTrapezoid(this.proFprLimit);
    let i = 0;
    let j = totalNeg - 1;
    let tp = 0;
    let fp = 0;
    let overlap = 0;
    let rankedPairs = 0;
    let ap = 0;
    let f1Max = -1;
    let f1MaxLogit = NaN;
    while (i < totalPos || j >= 0) {
      const t = Math.max(i < totalPos ? pos.scores[i]! : -Infinity, j >= 0 ? neg[j]! : -Infinity);
      let dp = 0;
      let dw = 0;
      for (; i < totalPos && pos.scores[i] === t; i++, dp++) dw += pos.weights[i]!;
      let dn = 0;
      for (; j >= 0 && neg[j] === t; j--) dn++;
      // Each background pixel at t ranks below the tp defect pixels above t and ties with the dp at t.
      rankedPairs += dn * (tp + dp / 2);
      tp += dp;
      fp += dn;
      overlap += dw;
      if (dp > 0) ap += (dp / totalPos) * (tp / (tp + fp));
      // F1 = 2TP / (2TP + FP + FN) with FN = totalPos - TP; strict '>' keeps the highest t among equals.
      const f1 = (2 * tp) / (tp + fp + totalPos);
      if (f1 > f1Max) {
        f1Max = f1;
        f1MaxLogit = t;
      }
      pro.lineTo(fp / totalNeg, overlap / this.regions);
    }
    return {
      auroc: rankedPairs / (totalPos * totalNeg),
      ap,
      f1Max,
      f1MaxThreshold: sigmoid64(f1MaxLogit),
      aupro: pro.area() / this.proFprLimit,
    };
  }

  /** Defect scores descending with their weights alongside (an index sort: the pairs must move together). */
  private sortedPositives(): { scores: Float64Array; weights: Float64Array } {
    const scores = this.positives.view();
    const weights = this.positiveWeights.view();
    const order = new Uint32Array(scores.length);
    for (let k = 0; k < order.length; k++) order[k] = k;
    order.sort((a, b) => scores[b]! - scores[a]!);
    const sortedScores = new Float64Array(order.length);
    const sortedWeights = new Float64Array(order.length);
    for (let k = 0; k < order.length; k++) {
      sortedScores[k] = scores[order[k]!]!;
      sortedWeights[k] = weights[order[k]!]!;
    }
    return { scores: sortedScores, weights: sortedWeights };
  }
}

/** The metrics of a threshold; at a threshold, pixel F1 (2PR / (P + R)) is Dice, given under both names. */
export type ThresholdMetrics = Pick<PixelMetrics, 'iou' | 'backgroundIou' | 'miou' | 'dice'> & { f1: number };

/** sigmoid(x) > p  <=>  x > log(p / (1 - p)): exactly x > 0 for 0.5, and every finite x for 0. */
function logitOf(p: number): number {
  return Math.log(p / (1 - p));
}

function countAbove(scores: Float64Array, cut: number): number {
  let n = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > cut) n++;
  return n;
}

type RankingMetrics = Pick<PixelMetrics, 'auroc' | 'ap' | 'f1Max' | 'f1MaxThreshold' | 'aupro'>;

/**
 * Trapezoid-rule area under a polyline from (0, 0), cut at x = limit: the segment that crosses the
 * limit is interpolated linearly there and later points are ignored. Points come with x non-decreasing.
 */
class ClippedTrapezoid {
  private x = 0;
  private y = 0;
  private sum = 0;
  private done = false;

  constructor(private readonly limit: number) {}

  lineTo(x: number, y: number): void {
    if (this.done) return;
    if (x >= this.limit) {
      // x > this.x here: this.x < limit, or done would be set.
      const yAtLimit = this.y + ((y - this.y) * (this.limit - this.x)) / (x - this.x);
      this.sum += ((this.limit - this.x) * (this.y + yAtLimit)) / 2;
      this.done = true;
      return;
    }
    this.sum += ((x - this.x) * (this.y + y)) / 2;
    this.x = x;
    this.y = y;
  }

  /** The area so far; a curve that stops short of the limit (a PRO curve ends at FPR 1) counts up to its end. */
  area(): number {
    return this.sum;
  }
}

/** A Float64Array that doubles when full: millions of pixels without per-pixel JS objects. */
class GrowableFloat64 {
  private data = new Float64Array(INITIAL_CAPACITY);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  /** The values pushed so far, sharing storage (valid until the next push). */
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

function sigmoid64(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function ratio(a: number, b: number): number {
  return b === 0 ? NaN : a / b;
}
