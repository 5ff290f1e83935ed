// `gpuseg experiment`: trains and evaluates every cell of variants x shot counts x split seeds on one
// category, and keeps results.json, results.md and report.html up to date. Resumable: a finished cell
// (its cell.json written last) is never rerun; a cell without one was cut short, and continues from its
// last checkpoint when it has one to continue from, else its folder is removed and it starts again.
// runCell is the one way a cell runs: the local loop here, `--cell N` and the queue's workers use it.
import { link, mkdir, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ImageCache } from '../data/index.js';
import { writeExperimentReport, writeRunReport } from '../report/index.js';
import { CHECKPOINTS_DIR, OPTIMIZER_FILE, latestCheckpoint, readConfig } from '../train/checkpoint.js';
import { openDevice } from '../train/device.js';
import { recordedOptions, resolveOptions } from '../train/options.js';
import { TRAIN_DEFAULTS, type TrainContext, type TrainEvent, type TrainOptions, train } from '../train/trainer.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { type CellResult, RESULTS_FORMAT, markdownTable, summarize } from './results.js';
import { VARIANTS, type Variant } from './variants.js';
import { InputError } from '../util/errors.js';

export const EXPERIMENT_FILE = 'experiment.json';
export const CELL_FILE = 'cell.json';
const CELLS_DIR = 'cells';

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

/** Where a cell continues from: the step of its checkpoint, or null when it starts from scratch. */
export type CellStart = (resumedFrom: number | null) => void;

export function cellName(variant: Variant, shots: number, splitSeed: number): string {
  return `${variant}-${shots}shot-split${splitSeed}`;
}

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

/** What a resumed experiment must agree with: every option but the folder. */
function settingsOf(o: ExperimentOptions) {
  const { out: _, ...settings } = o;
  return { format: RESULTS_FORMAT, ...settings };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function checkSameSettings(path: string, before: Record<string, unknown>, settings: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(settings)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(value)) {
      throw new InputError(`${path}: this experiment was started with ${key} ${JSON.stringify(before[key])}, not ${JSON.stringify(value)}; use another --out`);
    }
  }
}

async function checkClaimed(path: string, o: ExperimentOptions): Promise<void> {
  checkSameSettings(path, JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>, settingsOf(o));
}

/** A temporary name of this process's own: pods of an Indexed Job often all run as pid 1. */
function temporaryName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Starts or resumes: the folder's experiment.json must hold the same settings as these. Safe when many
 * processes start the same experiment at once (`--cell` pods): experiment.json is created whole and
 * exclusively (a complete temporary file hard-linked to its name, which fails if the name exists), and
 * whoever loses the race checks the winner's settings.
 */
export async function claimExperiment(o: ExperimentOptions): Promise<void> {
  const path = join(o.out, EXPERIMENT_FILE);
  if (await exists(path)) return checkClaimed(path, o);
  if ((await exists(o.out)) && !(await isEmptyDir(o.out))) {
    if (await exists(path)) return checkClaimed(path, o); // another process claimed it meanwhile
    throw new InputError(`--out '${o.out}' is not empty and holds no ${EXPERIMENT_FILE}`);
  }
  await makeFolder(o.out, '--out');
  const temporary = temporaryName(path);
  try {
    await writeFile(temporary, json(settingsOf(o)));
    await link(temporary, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await checkClaimed(path, o);
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

/** Empty but for other processes' half-made experiment.json (see claimExperiment). */
async function isEmptyDir(path: string): Promise<boolean> {
  return (await readdir(path)).every((name) => name.startsWith(`${EXPERIMENT_FILE}.tmp-`));
}

export async function readCell(dir: string): Promise<CellResult | null> {
  try {
    return JSON.parse(await readFile(join(dir, CELL_FILE), 'utf8')) as CellResult;
  } catch {
    return null;
  }
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

/** The train options of a cell: the experiment's, with the variant's switches, shots, split seed, folder. */
function cellTrainOptions(spec: CellSpec, dir: string): TrainOptions {
  const { options, cell } = spec;
  const switches = VARIANTS[cell.variant];
  const steps = options.steps ?? TRAIN_DEFAULTS.steps;
  const checkpointEvery = options.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery;
  return {
    ...options,
    ...switches,
    // Normal images in a batch serve only the NBR loss.
    normalPerBatch: switches.nbr ? options.normalPerBatch : undefined,
    shots: cell.shots,
    splitSeed: cell.splitSeed,
    out: dir,
    evaluate: true,
    // Adam's state is what makes a resumed cell end at the same weights as an uninterrupted one; it is
    // needed only where a checkpoint comes before the last step, and is removed when the cell finishes.
    optimizerState: checkpointEvery < steps,
  };
}

/**
 * The step of the checkpoint a cut-short cell continues from, or null: none, one without Adam's state,
 * the last step's (the cell was killed while evaluating: it is trained again, which costs one cell's
 * steps and keeps one code path), or one of other settings (a folder left from another grid).
 */
async function resumableStep(dir: string, wanted: TrainOptions): Promise<number | null> {
  const found = await latestCheckpoint(dir);
  if (!found?.state.optimizer) return null;
  let recorded: TrainOptions;
  try {
    recorded = recordedOptions(await readConfig<Record<string, unknown>>(dir), dir, join(dir, 'config.json'));
  } catch {
    return null;
  }
  const resolved = resolveOptions(wanted) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(recorded)) {
    if (key !== 'out' && JSON.stringify(value ?? null) !== JSON.stringify(resolved[key] ?? null)) return null;
  }
  return found.state.step < resolveOptions(wanted).steps ? found.state.step : null;
}

/** Test hook: GPUSEG_FAULT=fail-cell:SUFFIX makes every cell whose folder path ends with SUFFIX fail. */
function cellFault(dir: string): void {
  const fault = process.env.GPUSEG_FAULT ?? '';
  if (fault.startsWith('fail-cell:') && resolve(dir).endsWith(fault.slice('fail-cell:'.length))) {
    throw new Error(`injected fault in cell ${dir} (GPUSEG_FAULT=${fault})`);
  }
}

/** Adam's moments are kept only while a cell may still be resumed (they are twice the model's size). */
async function dropOptimizerState(dir: string): Promise<void> {
  await rm(join(dir, OPTIMIZER_FILE), { force: true });
  const checkpoints = await readdir(join(dir, CHECKPOINTS_DIR)).catch(() => [] as string[]);
  await Promise.all(checkpoints.map((name) => rm(join(dir, CHECKPOINTS_DIR, name, OPTIMIZER_FILE), { force: true })));
}

/**
 * Runs one cell: a finished one (cell.json) is returned as it is; a cut-short one continues from its
 * last checkpoint (train's --resume: the same final weights as an uninterrupted run); anything else
 * left in its folder is removed and the cell trained from scratch. Evaluates it, writes its report,
 * and writes cell.json last (atomically): its presence is what makes the cell finished.
 */
export async function runCell(spec: CellSpec, shared: TrainContext, onEvent: (e: TrainEvent) => void, onStart: CellStart = () => {}): Promise<CellResult> {
  const dir = join(spec.out, spec.cell.run);
  const finished = await readCell(dir);
  if (finished) return finished;
  cellFault(dir);
  const wanted = cellTrainOptions(spec, dir);
  const from = await resumableStep(dir, wanted);
  if (from === null) await rm(dir, { recursive: true, force: true });
  onStart(from);
  await mkdir(join(spec.out, CELLS_DIR), { recursive: true });
  // One device for every cell of a process: its pipelines are built once (0.2-0.6 s each on lavapipe).
  shared.device ??= await openDevice(wanted.device, wanted.adapter);
  const options: TrainOptions = from === null ? wanted : { data: wanted.data, out: dir, resume: true, device: wanted.device, adapter: wanted.adapter };
  const r = await train(options, onEvent, shared);
  await writeRunReport(dir);
  await dropOptimizerState(dir);
  const done: CellResult = { ...spec.cell, overall: r.evaluation!.overall, perType: r.evaluation!.perType, seconds: r.seconds };
  await writeFileAtomic(join(dir, CELL_FILE), json(done));
  return done;
}

/** The grid's results as the cell folders hold them, in the grid's order (unfinished cells as such). */
export async function collectCells(o: ExperimentOptions): Promise<CellResult[]> {
  return Promise.all(planCells(o).map(async (c) => (await readCell(join(o.out, c.run))) ?? unfinished(c)));
}

/** results.json, results.md and report.html from `cells` (in the grid's order). */
export async function writeResults(o: ExperimentOptions, cells: CellResult[]): Promise<void> {
  const summary = summarize(cells, o.variants, o.shots);
  const size = o.size ?? TRAIN_DEFAULTS.size;
  const steps = o.steps ?? TRAIN_DEFAULTS.steps;
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
  await writeFileAtomic(join(o.out, 'results.json'), json(results));
  await writeFileAtomic(join(o.out, 'results.md'), new TextEncoder().encode(markdownTable(summary, { size, steps })));
  await writeExperimentReport(o.out);
}

/**
 * `--collect`: results from the cell folders (after an Indexed Job or by hand). Returns the cells; the
 * caller reports those not finished.
 */
export async function collectExperiment(o: ExperimentOptions): Promise<CellResult[]> {
  checkGrid(o);
  const path = join(o.out, EXPERIMENT_FILE);
  if (!(await exists(path))) throw new InputError(`--collect: '${o.out}' holds no ${EXPERIMENT_FILE} (no cell of this experiment has run)`);
  await checkClaimed(path, o);
  const cells = await collectCells(o);
  await writeResults(o, cells);
  return cells;
}
