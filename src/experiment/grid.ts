// The grid of an experiment: its options, its cells in their fixed order, and what one cell needs to run
// anywhere (a queue job's payload). Apart from the runs (runner.ts, cell.ts, queue.ts) that all plan by it.
import type { TrainOptions } from '../run/options.js';
import type { CellResult } from './results.js';
import type { Variant } from './variants.js';
import { InputError } from '../util/errors.js';

export const CELLS_DIR = 'cells';

/** Every train option but the ones a cell sets (its variant's switches, shots, split seed, folder). */
export type CellTrainOptions = Omit<TrainOptions, 'out' | 'shots' | 'splitSeed' | 'nbr' | 'cropPaste' | 'weighting' | 'evaluate' | 'optimizerState'>;

export interface ExperimentOptions extends CellTrainOptions {
  out: string;
  shots: number[];
  variants: Variant[];
  splitSeeds: number[];
}

/** A cell as planned: which variant, shots and split seed, and its run folder (relative to the experiment). */
export type PlannedCell = Pick<CellResult, 'variant' | 'shots' | 'splitSeed' | 'run'>;

/** Everything one cell needs to run anywhere: what a queue job carries. */
export interface CellSpec {
  /** The experiment folder. */
  out: string;
  options: CellTrainOptions;
  cell: PlannedCell;
}

function cellName(variant: Variant, shots: number, splitSeed: number): string {
  return `${variant}-${shots}shot-split${splitSeed}`;
}

export function checkGrid(o: ExperimentOptions): void {
  if (!o.shots.length || !o.variants.length || !o.splitSeeds.length) throw new InputError('an experiment needs at least one shot count, variant and split seed');
}

/** The grid's cells in their fixed order: shot counts, then variants, then split seeds. */
export function planCells(o: ExperimentOptions): PlannedCell[] {
  return o.shots.flatMap((shots) =>
    o.variants.flatMap((variant) => o.splitSeeds.map((splitSeed) => ({ variant, shots, splitSeed, run: `${CELLS_DIR}/${cellName(variant, shots, splitSeed)}` }))),
  );
}

export const unfinished = (c: PlannedCell): CellResult => ({ ...c, overall: null, perType: null, seconds: null });

export function cellSpec(o: ExperimentOptions, cell: PlannedCell): CellSpec {
  const { out, shots: _, variants: __, splitSeeds: ___, ...options } = o;
  return { out, options, cell };
}
