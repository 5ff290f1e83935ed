// The report of an experiment: EXP/report.html from EXP/results.json and the run folders of its cells.
import { basename, join, resolve } from 'node:path';
import { EVAL_FILE, LOG_FILE } from '../run/run-folder.js';
import { writeFileAtomic } from '../util/files.js';
import { barChart } from './bars.js';
import { averagingNote, LOSS_TERMS, LOSS_TERMS_NOTE, pastePoints, termPoints } from './curves.js';
import { readJson, readOptionalJson, readRunLog, type EvalFile, type ExperimentCell, type ExperimentResults, type RunLog } from './formats.js';
import { chartFigure, escapeHtml, metricTable, page, section, settingsList } from './html.js';
import { formatMetric } from './numbers.js';
import { metricsNote, REPORT_FILE } from './run.js';
import { sampleGrid } from './samples.js';
import { summaryTable } from './summary.js';
import { lineChart, PALETTE, type Series } from './svg.js';

/**
 * Images per cell in the experiment report: an experiment has tens of cells, and each image is three
 * inline PNGs; the worst few show the failure modes, and a run report of the cell's folder shows them all.
 */
export const EXPERIMENT_SAMPLES_PER_CELL = 8;

function cellLabel(cell: ExperimentCell): string {
  return `${cell.variant} · ${cell.shots}-shot · split ${cell.splitSeed}`;
}

/** The run whose curves stand for a variant at one shot count. */
interface CurveRun {
  variant: string;
  splitSeed: number;
  color: string;
  log: RunLog;
}

/** Each variant's log at `shots` from its first split seed (in the experiment's order) that logged a step. */
async function curveRuns(dir: string, results: ExperimentResults, shots: number): Promise<CurveRun[]> {
  const runs: CurveRun[] = [];
  for (const [v, variant] of results.variants.entries()) {
    const candidates = results.cells
      .filter((c) => c.variant === variant && c.shots === shots)
      .sort((a, b) => results.splitSeeds.indexOf(a.splitSeed) - results.splitSeeds.indexOf(b.splitSeed));
    for (const cell of candidates) {
      const log = await readRunLog(join(dir, cell.run, LOG_FILE));
      if (log.steps.length === 0) continue;
      runs.push({ variant, splitSeed: cell.splitSeed, color: PALETTE[v % PALETTE.length]!, log });
      break;
    }
  }
  return runs;
}

function seriesName(run: CurveRun, results: ExperimentResults): string {
  return run.splitSeed === results.splitSeeds[0] ? run.variant : `${run.variant} (split ${run.splitSeed})`;
}

/** Per shot count: one chart per loss term with a line per variant, and the paste weights. */
function curveCharts(results: ExperimentResults, shots: number, runs: CurveRun[]): { losses: string; paste: string } {
  const heading = `<h3>${shots}-shot</h3>`;
  if (runs.length === 0) {
    const none = `${heading}<p class="note">No cell of ${shots} shots has logged a step yet.</p>`;
    return { losses: none, paste: none };
  }
  const charts = LOSS_TERMS.map((term) => {
    const series: Series[] = runs.map((run) => ({ name: seriesName(run, results), color: run.color, points: termPoints(run.log, term.key) }));
    const svg = lineChart({ title: `${shots}-shot: ${term.name} loss`, xLabel: 'step', yLabel: `${term.name} loss`, series, yScale: 'auto' });
    return svg === null ? '' : chartFigure(`${term.name} loss`, svg, '');
  }).join('');
  const longest = Math.max(...runs.map((r) => r.log.steps.length));
  const seeds = `One line per variant: its run at the first split seed (${results.splitSeeds[0]}) unless the legend says otherwise.`;
  const note = `<p class="note">${escapeHtml([seeds, LOSS_TERMS_NOTE, averagingNote(longest)].filter(Boolean).join(' '))}</p>`;
  const pasteSeries = runs.map((run) => ({ name: seriesName(run, results), color: run.color, points: pastePoints(run.log) }));
  const pasteSvg = lineChart({ title: `${shots}-shot: mean paste weight`, xLabel: 'step', yLabel: 'mean paste weight', series: pasteSeries, yInclude: 0 });
  return {
    losses: `${heading}<div class="charts">${charts}</div>${note}`,
    paste: heading + chartFigure('Mean paste weight per step', pasteSvg, `No variant pasted samples at ${shots} shots.`),
  };
}

function iouChart(results: ExperimentResults): string {
  const legend = results.variants.map((name, v) => ({ name, color: PALETTE[v % PALETTE.length]! }));
  const groups = results.shots.map((shots) => ({
    label: `${shots}-shot`,
    bars: results.variants.map((variant) => {
      const row = results.summary.find((r) => r.variant === variant && r.shots === shots);
      return { value: row?.mean.iou ?? null, error: row && row.seeds > 1 ? row.std.iou : null };
    }),
  }));
  const svg = barChart({ title: 'Defect IoU per variant and shot count', xLabel: 'shots per defect type', yLabel: 'defect IoU', legend, groups });
  return chartFigure('Defect IoU (mean over split seeds, error bars ± one standard deviation)', svg, 'No cell has finished yet.');
}

/** A finished cell's evaluation file (null when it has none). */
async function cellEvaluation(dir: string, cell: ExperimentCell): Promise<EvalFile | null> {
  return cell.overall === null ? null : readOptionalJson<EvalFile>(join(dir, cell.run, EVAL_FILE), 'evaluation');
}

async function cellDetails(dir: string, cell: ExperimentCell, evaluation: EvalFile | null, open: boolean): Promise<string> {
  const runDir = join(dir, cell.run);
  const iou = cell.overall ? `IoU ${formatMetric(cell.overall.iou)}` : 'not finished';
  const time = cell.seconds !== null ? ` · ${Math.round(cell.seconds)} s` : '';
  let content: string;
  if (cell.overall === null) {
    content = '<p class="warning">This cell has not finished: no metrics yet.</p>';
  } else {
    content =
      metricTable(cell.perType, cell.overall) +
      (evaluation
        ? await sampleGrid(runDir, evaluation, EXPERIMENT_SAMPLES_PER_CELL)
        : `<p class="warning">No eval.json in ${escapeHtml(cell.run)}: no images to show.</p>`);
  }
  return (
    `<details${open ? ' open' : ''}><summary>${escapeHtml(cellLabel(cell))} — ${escapeHtml(iou + time)}</summary>` +
    `<p class="note">Run folder: ${escapeHtml(cell.run)}</p>${content}</details>`
  );
}

export async function writeExperimentReport(experimentDir: string): Promise<string> {
  const dir = resolve(experimentDir);
  const results = await readJson<ExperimentResults>(join(dir, 'results.json'), 'experiment results');
  const finished = results.cells.filter((c) => c.overall !== null);
  const unfinished = results.cells.filter((c) => c.overall === null);
  const seconds = results.cells.reduce((sum, c) => sum + (c.seconds ?? 0), 0);
  const title = `Experiment ${basename(dir)}: ${basename(results.data)}`;
  const header = settingsList([
    ['data', results.data],
    ['size', `${results.size} x ${results.size}`],
    ['steps', String(results.steps)],
    ['variants', results.variants.join(', ')],
    ['shots', results.shots.join(', ')],
    ['split seeds', results.splitSeeds.join(', ')],
    ['cells finished', `${finished.length} of ${results.cells.length}`],
    ['training time', `${(seconds / 60).toFixed(1)} min`],
  ]);
  const curves = [];
  for (const shots of results.shots) curves.push(curveCharts(results, shots, await curveRuns(dir, results, shots)));
  const unfinishedList =
    unfinished.length === 0
      ? ''
      : `<div class="warning">Unfinished cells (no metrics yet):<ul class="plain">${unfinished
          .map((c) => `<li>${escapeHtml(cellLabel(c))} (${escapeHtml(c.run)})</li>`)
          .join('')}</ul></div>`;
  const evaluations: (EvalFile | null)[] = [];
  for (const cell of results.cells) evaluations.push(await cellEvaluation(dir, cell));
  const cells: string[] = [];
  for (const [i, cell] of results.cells.entries()) cells.push(await cellDetails(dir, cell, evaluations[i] ?? null, i === 0));
  // The cells share one evaluation protocol: say once what their tables measure.
  const first = evaluations.find((e) => e !== null);
  const cellsNote = first ? metricsNote(first, "each cell's final weights") : '';
  const body = [
    `<header><h1>${escapeHtml(title)}</h1><p class="subtitle">${escapeHtml(dir)}</p>${header}</header>`,
    section('Summary', summaryTable(results)),
    section('Defect IoU', iouChart(results)),
    section('Training loss', curves.map((c) => c.losses).join('')),
    section('Paste weight', curves.map((c) => c.paste).join('')),
    section('Cells', unfinishedList + cellsNote + cells.join('\n')),
  ].join('\n');
  const path = join(dir, REPORT_FILE);
  await writeFileAtomic(path, new TextEncoder().encode(page(title, body)));
  return path;
}
