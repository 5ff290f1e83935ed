// One cell of an experiment, run: resumed from its last checkpoint or trained from scratch, evaluated,
// and finished by its cell.json. The one way a cell runs: the local loop (runner.ts), `--cell N` and the
// queue's workers all call runCell.
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeRunReport } from '../report/index.js';
import { CHECKPOINTS_DIR, OPTIMIZER_FILE, latestCheckpoint, readConfig } from '../run/checkpoint.js';
import { openDevice } from '../backend/open.js';
import { resolveOptions } from '../run/options.js';
import { recordedOptions } from '../run/run-config.js';
import { layoutSize } from '../train/batch.js';
import { TRAIN_DEFAULTS, type TrainContext, type TrainEvent, type TrainOptions, train } from '../train/trainer.js';
import { emptyLockedFolder, lockRun } from '../run/run-lock.js';
import { jsonBytes, writeFileAtomic } from '../util/files.js';
import { CELLS_DIR, type CellSpec } from './grid.js';
import type { CellResult } from './results.js';
import { variantOptions } from './variants.js';

export const CELL_FILE = 'cell.json';

/** Where a cell continues from: the step of its checkpoint, or null when it starts from scratch. */
export type CellStart = (resumedFrom: number | null) => void;

export async function readCell(dir: string): Promise<CellResult | null> {
  try {
    return JSON.parse(await readFile(join(dir, CELL_FILE), 'utf8')) as CellResult;
  } catch {
    return null;
  }
}

/** The train options of a cell: the experiment's, with the variant's switches, shots, split seed, folder. */
function cellTrainOptions(spec: CellSpec, dir: string): TrainOptions {
  const { options, cell } = spec;
  const switches = variantOptions(cell.variant)!;
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
  await mkdir(join(spec.out, CELLS_DIR), { recursive: true });
  // One writer per cell folder (a second worker given the same cell, a local run beside a queued one).
  const lock = await lockRun(dir, { what: 'cell', onWarning: (message) => onEvent({ kind: 'warning', message }) });
  try {
    return (await readCell(dir)) ?? (await runLockedCell(spec, dir, shared, onEvent, onStart));
  } finally {
    await lock.release();
  }
}

async function runLockedCell(spec: CellSpec, dir: string, shared: TrainContext, onEvent: (e: TrainEvent) => void, onStart: CellStart): Promise<CellResult> {
  const wanted = cellTrainOptions(spec, dir);
  const from = await resumableStep(dir, wanted);
  if (from === null) await emptyLockedFolder(dir);
  onStart(from);
  // One device for every cell of a process: its pipelines are built once (0.2-0.6 s each on lavapipe).
  shared.device ??= await openDevice(wanted.device, wanted.adapter);
  const options: TrainOptions = from === null ? wanted : { data: wanted.data, out: dir, resume: true, device: wanted.device, adapter: wanted.adapter };
  const r = await train(options, onEvent, shared);
  await writeRunReport(dir);
  await dropOptimizerState(dir);
  const at = r.evaluation!.runThreshold;
  const atThreshold = at ? { threshold: at.value, ...at.overall } : undefined;
  const done: CellResult = { ...spec.cell, overall: r.evaluation!.overall, perType: r.evaluation!.perType, seconds: r.seconds, atThreshold, imagesPerStep: layoutSize(r.layout) };
  await writeFileAtomic(join(dir, CELL_FILE), jsonBytes(done));
  return done;
}
