// Pixel-level segmentation metrics (METHOD.md): defect IoU, background IoU, mIoU, Dice/F1 at a
// threshold, and the threshold-free pixel AUROC and average precision. Host-side, at evaluation only.

export interface PixelMetrics {
  iou: number;
  backgroundIou: number;
  miou: number;
  dice: number;
  auroc: number;
  ap: number;
  pixels: number;
  defectPixels: number;
}

/** Accumulates confusion counts and a score histogram (for AUROC/AP) over many images. */
export class MetricAccumulator {
  private tp = 0;
  private fp = 0;
  private fn = 0;
  private tn = 0;
  /** Scores are probabilities in [0, 1]; 2^16 bins make AUROC/AP exact to about 1e-5. */
  private static readonly BINS = 65536;
  private readonly pos = new Float64Array(MetricAccumulator.BINS);
  private readonly neg = new Float64Array(MetricAccumulator.BINS);

  constructor(private readonly threshold = 0.5) {}

  /** probs: sigmoid outputs; mask: 0/1 ground truth; same length. */
  add(probs: ArrayLike<number>, mask: ArrayLike<number>): void {
    if (probs.length !== mask.length) throw new Error(`metrics: ${probs.length} scores for a mask of ${mask.length} pixels`);
    const top = MetricAccumulator.BINS - 1;
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i]!;
      const bin = Math.min(top, Math.max(0, Math.floor(p * top + 0.5)));
      const predicted = p > this.threshold;
      if (mask[i]) {
        this.pos[bin]++;
        if (predicted) this.tp++;
        else this.fn++;
      } else {
        this.neg[bin]++;
        if (predicted) this.fp++;
        else this.tn++;
      }
    }
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
      ...this.curves(),
      pixels: tp + fp + fn + tn,
      defectPixels: tp + fn,
    };
  }

  /** AUROC (ties count half) and AP (precision at each distinct score, weighted by recall gained). */
  private curves(): { auroc: number; ap: number } {
    const totalPos = this.tp + this.fn;
    const totalNeg = this.fp + this.tn;
    if (totalPos === 0 || totalNeg === 0) return { auroc: NaN, ap: NaN };
    let auc = 0;
    let ap = 0;
    let posAbove = 0;
    let negAbove = 0;
    for (let b = MetricAccumulator.BINS - 1; b >= 0; b--) {
      const p = this.pos[b]!;
      const n = this.neg[b]!;
      // Negatives in this bin rank below the positives above it, and tie with this bin's positives.
      auc += n * (posAbove + p / 2);
      posAbove += p;
      negAbove += n;
      if (p > 0) ap += (p / totalPos) * (posAbove / (posAbove + negAbove));
    }
    return { auroc: auc / (totalPos * totalNeg), ap };
  }
}

function ratio(a: number, b: number): number {
  return b === 0 ? NaN : a / b;
}
