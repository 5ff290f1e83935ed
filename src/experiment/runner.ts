// `gpuseg experiment`: trains and evaluates every cell of variants x shot counts x split seeds on one
// category, and keeps results.json, results.md and report.html up to date. Resumable: a finished cell
// (its cell.json written last) is never rerun; a cell without one was cut short, and continues from its
// last checkpoint when it has one to continue from, else its folder is removed and it starts again.
// The grid is grid.ts, the folder's claim claim.ts, and one cell's run cell.ts.
import { join } from 'node:path';
import { ImageCache } from '../data/index.js';
import { writeExperimentReport } from '../report/index.js';
import { TRAIN_DEFAULTS, type TrainContext, type TrainEvent } from '../train/trainer.js';
import { jsonBytes, writeFileAtomic } from '../util/files.js';
import { type CellStart, readCell, runCell } from './cell.js';
import { checkClaimedBefore, claimExperiment } from './claim.js';
import { type ExperimentOptions, cellSpec, checkGrid, planCells, unfinished } from './grid.js';
import { type CellResult, RESULTS_FORMAT, markdownTable, summarize } from './results.js';
import type { Variant } from './variants.js';
import { InputError } from '../util/errors.js';

export type ExperimentEvent =
  | { kind: 'cell'; index: number; cells: number; variant: Variant; shots: number; splitSeed: number; skipped: boolean }
  | { kind: 'train'; index: number; event: TrainEvent }
  | { kind: 'cell-done'; index: number; cell: CellResult };

export interface ExperimentResult {
  dir: string;
  cells: CellResult[];
  trained: number;
  skipped: number;
}

export async function runExperiment(o: ExperimentOptions, onEvent: (e: ExperimentEvent) => void = () => {}): Promise<ExperimentResult> {
  checkGrid(o);
  await claimExperiment(o);
  const results: CellResult[] = planCells(o).map(unfinished);
  const shared: TrainContext = { images: new ImageCache(), verified: new Set() };
  let trained = 0;
  let skipped = 0;
  try {
    for (const [index, c] of results.entries()) {
      const finished = await readCell(join(o.out, c.run));
      onEvent({ kind: 'cell', index, cells: results.length, variant: c.variant, shots: c.shots, splitSeed: c.splitSeed, skipped: !!finished });
      if (finished) {
        results[index] = finished;
        skipped++;
        continue;
      }
      results[index] = await runCell(cellSpec(o, c), shared, (event) => onEvent({ kind: 'train', index, event }));
      trained++;
      onEvent({ kind: 'cell-done', index, cell: results[index]! });
      await writeResults(o, results);
    }
  } finally {
    shared.device?.close();
  }
  await writeResults(o, results);
  return { dir: o.out, cells: results, trained, skipped };
}

/** `--cell N`: only the grid's cell N (0-based, in planCells' order); results are left to `--collect`. */
export async function runOneCell(o: ExperimentOptions, index: number, onEvent: (e: TrainEvent) => void, onStart: CellStart = () => {}): Promise<CellResult> {
  checkGrid(o);
  const plan = planCells(o);
  const cell = plan[index];
  if (!cell) throw new InputError(`--cell ${index}: this grid has ${plan.length} cell(s), numbered 0 to ${plan.length - 1}`);
  await claimExperiment(o);
  const shared: TrainContext = { images: new ImageCache(), verified: new Set() };
  try {
    return await runCell(cellSpec(o, cell), shared, onEvent, onStart);
  } finally {
    shared.device?.close();
  }
}

/** The grid's results as the cell folders hold them, in the grid's order (unfinished cells as such). */
export async function collectCells(o: ExperimentOptions): Promise<CellResult[]> {
  return Promise.all(planCells(o).map(async (c) => (await readCell(join(o.out, c.run))) ?? unfinished(c)));
}

/** results.json, results.md and report.html from `cells` (in the grid's order). */
export async function writeResults(o: ExperimentOptions, cells: CellResult[]): Promise<void> {
  const size = o.size ?? o.tile ?? TRAIN_DEFAULTS.size;
  const steps = o.steps ?? TRAIN_DEFAULTS.steps;
  const summary = summarize(cells, o.variants, o.shots, steps);
  const results = {
    format: RESULTS_FORMAT,
    data: o.data,
    size,
    steps,
    variants: o.variants,
    shots: o.shots,
    splitSeeds: o.splitSeeds,
    cells,
    summary,
  };
  await writeFileAtomic(join(o.out, 'results.json'), jsonBytes(results));
  await writeFileAtomic(join(o.out, 'results.md'), new TextEncoder().encode(markdownTable(summary, { size, steps })));
  await writeExperimentReport(o.out);
}

/**
 * `--collect`: results from the cell folders (after an Indexed Job or by hand). Returns the cells; the
 * caller reports those not finished.
 */
export async function collectExperiment(o: ExperimentOptions): Promise<CellResult[]> {
  checkGrid(o);
  await checkClaimedBefore(o);
  const cells = await collectCells(o);
  await writeResults(o, cells);
  return cells;
}
