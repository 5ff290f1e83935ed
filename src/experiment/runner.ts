// `gpuseg experiment`: trains and evaluates every cell of variants x shot counts x split seeds on one
// category, one after another in this process, and keeps results.json, results.md and report.html up
// to date after each cell. Resumable: a finished cell (its cell.json written last) is never rerun; a
// cell without one was cut short, and its folder is removed and the cell trained again from the start.
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageCache } from '../data/index.js';
import { writeExperimentReport, writeRunReport } from '../report/index.js';
import { openDevice } from '../train/device.js';
import { TRAIN_DEFAULTS, type TrainContext, type TrainEvent, type TrainOptions, train } from '../train/trainer.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { type CellResult, RESULTS_FORMAT, markdownTable, summarize } from './results.js';
import { VARIANTS, type Variant } from './variants.js';
import { InputError } from '../util/errors.js';

export const EXPERIMENT_FILE = 'experiment.json';
const CELL_FILE = 'cell.json';
const CELLS_DIR = 'cells';

/** Every train option but the ones a cell sets (its variant's switches, shots, split seed, folder). */
export type CellTrainOptions = Omit<TrainOptions, 'out' | 'shots' | 'splitSeed' | 'nbr' | 'cropPaste' | 'weighting' | 'evaluate' | 'optimizerState'>;

export interface ExperimentOptions extends CellTrainOptions {
  out: string;
  shots: number[];
  variants: Variant[];
  splitSeeds: number[];
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

/** Starts or resumes: the folder's experiment.json must hold the same settings as these. */
async function claim(o: ExperimentOptions): Promise<void> {
  const path = join(o.out, EXPERIMENT_FILE);
  const settings = settingsOf(o);
  if (await exists(path)) {
    const before = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(settings)) {
      if (JSON.stringify(before[key]) !== JSON.stringify(value)) {
        throw new InputError(`${path}: this experiment was started with ${key} ${JSON.stringify(before[key])}, not ${JSON.stringify(value)}; use another --out`);
      }
    }
    return;
  }
  if ((await exists(o.out)) && !(await isEmptyDir(o.out))) throw new InputError(`--out '${o.out}' is not empty and holds no ${EXPERIMENT_FILE}`);
  await makeFolder(o.out, '--out');
  await writeFileAtomic(path, json(settings));
}

async function isEmptyDir(path: string): Promise<boolean> {
  return (await readdir(path)).length === 0;
}

async function readCell(dir: string): Promise<CellResult | null> {
  try {
    return JSON.parse(await readFile(join(dir, CELL_FILE), 'utf8')) as CellResult;
  } catch {
    return null;
  }
}

export async function runExperiment(o: ExperimentOptions, onEvent: (e: ExperimentEvent) => void = () => {}): Promise<ExperimentResult> {
  if (!o.shots.length || !o.variants.length || !o.splitSeeds.length) throw new InputError('an experiment needs at least one shot count, variant and split seed');
  await claim(o);
  const plan = o.shots.flatMap((k) => o.variants.flatMap((variant) => o.splitSeeds.map((splitSeed) => ({ variant, shots: k, splitSeed }))));
  const results: CellResult[] = plan.map((c) => ({ ...c, run: `${CELLS_DIR}/${cellName(c.variant, c.shots, c.splitSeed)}`, overall: null, perType: null, seconds: null }));
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
      // One device for every cell: its pipelines are built once (0.2-0.6 s each on lavapipe).
      shared.device ??= await openDevice(o.device, o.adapter);
      results[index] = await runCell(o, c, shared, (event) => onEvent({ kind: 'train', index, event }));
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

/** Trains one cell from scratch (whatever a killed run left is removed first), evaluates it, reports it. */
async function runCell(o: ExperimentOptions, c: CellResult, shared: TrainContext, onEvent: (e: TrainEvent) => void): Promise<CellResult> {
  const { out, shots: _, variants: __, splitSeeds: ___, ...trainOptions } = o;
  const dir = join(out, c.run);
  await rm(dir, { recursive: true, force: true });
  const switches = VARIANTS[c.variant];
  const r = await train(
    {
      ...trainOptions,
      ...switches,
      // Normal images in a batch serve only the NBR loss.
      normalPerBatch: switches.nbr ? trainOptions.normalPerBatch : undefined,
      shots: c.shots,
      splitSeed: c.splitSeed,
      out: dir,
      evaluate: true,
      // A finished cell is never trained further, and a killed one starts again from scratch.
      optimizerState: false,
    },
    onEvent,
    shared,
  );
  await writeRunReport(dir);
  const done: CellResult = { ...c, overall: r.evaluation!.overall, perType: r.evaluation!.perType, seconds: r.seconds };
  // Written last: its presence is what makes the cell finished.
  await writeFileAtomic(join(dir, CELL_FILE), json(done));
  return done;
}

/** results.json, results.md and report.html from the cells so far. */
async function writeResults(o: ExperimentOptions, cells: CellResult[]): Promise<void> {
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
