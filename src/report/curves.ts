// Training curves from log.jsonl, shared by the run and the experiment report: the loss terms, the paste
// weight and the validation false-positive rate, each downsampled for plotting.
import type { RunLog, StepLine } from './formats.js';
import { binMeans, type Point } from './numbers.js';

/** Points per plotted series: enough for the shape of a 20,000-step curve, a few kB of SVG each. */
export const MAX_PLOT_POINTS = 300;

export type LossTerm = 'loss' | 'seg' | 'bg' | 'feat';

/** The logged loss terms, under the names the log and the config use. */
export const LOSS_TERMS: readonly { key: LossTerm; name: string }[] = [
  { key: 'loss', name: 'total' },
  { key: 'seg', name: 'seg' },
  { key: 'bg', name: 'bg' },
  { key: 'feat', name: 'feat' },
];

export const LOSS_TERMS_NOTE =
  'total: the loss minimised; seg: the segmentation term; bg: the background term (λ_bg); feat: the feature term (λ_feat). A term that is off is not drawn.';

function stepSeries(log: RunLog, pick: (line: StepLine) => number | null): Point[] {
  const points: Point[] = [];
  for (const line of log.steps) {
    const y = pick(line);
    if (y !== null) points.push({ x: line.step, y });
  }
  return points;
}

/** The term's logged values (nulls dropped: the term is off), downsampled. */
export function termPoints(log: RunLog, term: LossTerm): Point[] {
  return binMeans(stepSeries(log, (line) => line[term]), MAX_PLOT_POINTS);
}

/** Mean paste weight per step, over the steps that had a pasted sample, downsampled. */
export function pastePoints(log: RunLog): Point[] {
  return binMeans(stepSeries(log, (line) => line.pasteWeight), MAX_PLOT_POINTS);
}

export function validationPoints(log: RunLog): Point[] {
  return binMeans(
    log.validation.map((v) => ({ x: v.step, y: v.falsePositiveRate })),
    MAX_PLOT_POINTS,
  );
}

/** How many logged values each plotted point averages: said under the chart when it is more than one. */
function stepsPerPoint(count: number): number {
  return count <= MAX_PLOT_POINTS ? 1 : Math.ceil(count / MAX_PLOT_POINTS);
}

/** A sentence about the averaging of a series of `count` values, or '' when none was needed. */
export function averagingNote(count: number): string {
  const k = stepsPerPoint(count);
  return k > 1 ? `Each point is the mean of ${k} consecutive logged steps (${count.toLocaleString('en-US')} in all).` : '';
}
