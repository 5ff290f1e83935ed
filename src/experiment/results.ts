// An experiment's results: one entry per cell (variant x shots x split seed), the mean and standard
// deviation over split seeds per variant and shot count, and the Markdown table of them.
import { METRIC_COLUMNS, type PixelMetrics, type ThresholdMetrics } from '../evaluate/metrics.js';
import type { SummaryRow as SummaryRowFile } from '../report/formats.js';
import type { Variant } from './variants.js';

export const RESULTS_FORMAT = 'gpuseg-experiment/1';
const BASELINE: Variant = 'baseline';

export interface CellResult {
  variant: Variant;
  shots: number;
  splitSeed: number;
  /** The cell's run folder, relative to the experiment folder. */
  run: string;
  /** null: not finished. */
  overall: PixelMetrics | null;
  perType: Record<string, PixelMetrics> | null;
  seconds: number | null;
  /**
   * The metrics at the run's own threshold (from its held-out normal images: what predict marks), and
   * that threshold; absent in cells finished before it was recorded.
   */
  atThreshold?: ThresholdMetrics & { threshold: number };
  /** Images through the network per step (the batch layout's sum): a variant's cost that does not depend on the machine's load. */
  imagesPerStep?: number;
  /** Only for a cell that failed on the queue after its last attempt: why (its metrics are null). */
  error?: string;
}

/** A row of results.json's summary: the row the report reads (report/formats.ts), and the IoU gain. */
export interface SummaryRow extends SummaryRowFile {
  variant: Variant;
  /** Defect IoU minus the baseline's on the same split seeds: mean and sample std; null without a baseline. */
  iouGain: { mean: number | null; std: number | null };
  /** The same paired difference of average precision and of F1-max. */
  apGain: { mean: number | null; std: number | null };
  f1MaxGain: { mean: number | null; std: number | null };
  /** Defect IoU at each run's own threshold (what predict marks): mean and std over the seeds that have it, and its paired gain. */
  iouAtThreshold: { mean: number | null; std: number | null };
  iouAtThresholdGain: { mean: number | null; std: number | null };
  /** Seconds of training per step (the cells' training time over their steps): the variant's cost. */
  secondsPerStep: number | null;
  /** Images per step, the mean over the cells that record it (null: none does). */
  imagesPerStep: number | null;
}

function meanStd(values: number[]): { mean: number | null; std: number | null } {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { mean: null, std: null };
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  if (finite.length < 2) return { mean, std: null };
  const ss = finite.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (finite.length - 1)) };
}

/** Rows in the order of `variants` within each shot count. */
export function summarize(cells: CellResult[], variants: Variant[], shots: number[], steps: number): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const k of shots) {
    const baselineCells = cells.filter((c) => c.variant === BASELINE && c.shots === k && c.overall);
    const baseline = new Map(baselineCells.map((c) => [c.splitSeed, c.overall!]));
    const baselineAt = new Map(baselineCells.map((c) => [c.splitSeed, c.atThreshold?.iou ?? NaN]));
    for (const variant of variants) {
      const done = cells.filter((c) => c.variant === variant && c.shots === k && c.overall);
      const mean = {} as SummaryRow['mean'];
      const std = {} as SummaryRow['std'];
      for (const { key } of METRIC_COLUMNS) {
        const s = meanStd(done.map((c) => c.overall![key] ?? NaN));
        mean[key] = s.mean;
        std[key] = s.std;
      }
      const paired = done.filter((c) => baseline.has(c.splitSeed));
      const gain = (key: 'iou' | 'ap' | 'f1Max') => meanStd(paired.map((c) => (c.overall![key] ?? NaN) - (baseline.get(c.splitSeed)![key] ?? NaN)));
      const iouAtThreshold = meanStd(done.map((c) => c.atThreshold?.iou ?? NaN));
      const iouAtThresholdGain = meanStd(paired.map((c) => (c.atThreshold?.iou ?? NaN) - baselineAt.get(c.splitSeed)!));
      const timed = done.filter((c) => c.seconds !== null);
      const secondsPerStep = timed.length ? timed.reduce((a, c) => a + c.seconds!, 0) / (timed.length * steps) : null;
      const gains = { iouGain: gain('iou'), apGain: gain('ap'), f1MaxGain: gain('f1Max'), iouAtThreshold, iouAtThresholdGain };
      const imagesPerStep = meanStd(done.map((c) => c.imagesPerStep ?? NaN)).mean;
      rows.push({ variant, shots: k, seeds: done.length, mean, std, ...gains, secondsPerStep, imagesPerStep });
    }
  }
  return rows;
}

function cell(mean: number | null, std: number | null, digits = 3): string {
  if (mean === null) return '–';
  return std === null ? mean.toFixed(digits) : `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
}

function signed(mean: number | null, std: number | null): string {
  if (mean === null) return '–';
  // The sign of the rounded value: a gain of -1e-17 (two equal metrics summed apart) reads +0.000, not -0.000.
  const rounded = Number(mean.toFixed(3));
  const m = `${rounded >= 0 ? '+' : '-'}${Math.abs(rounded).toFixed(3)}`;
  return std === null ? m : `${m} ± ${std.toFixed(3)}`;
}

/** The summary as a Markdown table, with a line saying what the numbers are. */
export function markdownTable(rows: SummaryRow[], o: { size: number; steps: number }): string {
  const header = ['variant', 'shots', 'seeds', ...METRIC_COLUMNS.map((c) => c.name), 'IoU thr', 'IoU vs baseline', 'IoU thr vs baseline', 'AP vs baseline', 'F1-max vs baseline', 's/step', 'img/step'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const metrics = METRIC_COLUMNS.map(({ key }) => cell(r.mean[key], r.std[key]));
    const gains = [r.iouGain, r.iouAtThresholdGain, r.apGain, r.f1MaxGain].map((g) => (r.variant === BASELINE ? '' : signed(g.mean, g.std)));
    const cost = r.secondsPerStep === null ? '–' : r.secondsPerStep.toFixed(2);
    const images = r.imagesPerStep === null ? '–' : String(r.imagesPerStep);
    lines.push(`| ${[r.variant, r.shots, r.seeds, ...metrics, cell(r.iouAtThreshold.mean, r.iouAtThreshold.std), ...gains, cost, images].join(' | ')} |`);
  }
  lines.push(
    '',
    `Mean ± sample standard deviation over split seeds, at ${o.size}x${o.size} after ${o.steps} steps, from each run's final ` +
      'weights. Pixel metrics pooled over all pixels of each evaluation set, threshold 0.5; AUPRO up to FPR 0.3. ' +
      "IoU thr: defect IoU at each run's own threshold (from its held-out normal images; what predict marks). " +
      '"vs baseline": the metric minus the baseline\'s on the same split seed (paired). s/step: training seconds per step (machine load included: ' +
      'compare cells timed in one sitting); img/step: images through the network per step.',
  );
  return `${lines.join('\n')}\n`;
}
