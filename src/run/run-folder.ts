// What a run folder holds, and the guard that keeps a new run from mixing into an old one (a second run
// would append to the first one's log.jsonl, and its report would draw both).
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINTS_DIR, CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, readConfig, weightsStep } from './checkpoint.js';
import { checkRunConfig } from './run-config.js';
import { InputError } from '../util/errors.js';
import { missingFolders } from '../util/files.js';

export const SPLIT_FILE = 'split.json';
export const LOG_FILE = 'log.jsonl';
export const EVAL_FILE = 'eval.json';
/** The probability maps of the worst evaluation images, for the report. */
export const EVAL_IMAGES_DIR = 'eval';
export const REPORT_FILE = 'report.html';
/** The decision threshold chosen on the held-out normal images (evaluate/threshold.ts). */
export const THRESHOLD_FILE = 'threshold.json';

/** Everything a run writes into its folder. */
const RUN_FILES = [CONFIG_FILE, SPLIT_FILE, LOG_FILE, MODEL_FILE, OPTIMIZER_FILE, CHECKPOINTS_DIR, EVAL_FILE, EVAL_IMAGES_DIR, REPORT_FILE, THRESHOLD_FILE];

/** The first of a run's files found in `dir`, or null (also when `dir` does not exist). */
async function existingRun(dir: string): Promise<string | null> {
  for (const name of RUN_FILES) {
    if (await stat(join(dir, name)).then(() => true, () => false)) return name;
  }
  return null;
}

/** Refuses a folder that holds a run unless `overwrite`; returns whether there is one to clear. */
export async function checkRunFolder(dir: string, overwrite: boolean): Promise<boolean> {
  await missingFolders(dir, '--out');
  const found = await existingRun(dir);
  if (found && !overwrite) throw new InputError(`--out '${dir}' holds a run (${found}); pass --overwrite to replace it, or choose another folder`);
  return found !== null;
}

/** Removes a run's files from its folder (and nothing else of the folder). */
export async function clearRun(dir: string): Promise<void> {
  await Promise.all(RUN_FILES.map((name) => rm(join(dir, name), { recursive: true, force: true })));
}

/** What a killed atomic write leaves: NAME.tmp-PID files (see writeFileAtomic and the checkpoint links). */
const LEFTOVER = /\.tmp-\d+$/;

/** Removes the leftovers of killed writes from a run folder (a missing folder has none). */
export async function removeLeftovers(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => LEFTOVER.test(n)).map((n) => rm(join(dir, n), { force: true })));
}

/**
 * A finished run folder's config.json (checked field by field) and the path of its final weights, with
 * the one-line errors predict gives: no such folder, not a folder, a bad config, no weights.
 */
export async function finishedRun(run: string): Promise<{ config: Record<string, unknown> & { size: number }; weights: string }> {
  const info = await stat(run).catch(() => null);
  if (!info) throw new InputError(`${run}: no such run folder`);
  if (!info.isDirectory()) throw new InputError(`${run}: not a run folder (a folder with ${CONFIG_FILE} and ${MODEL_FILE})`);
  const config = checkRunConfig(await readConfig<unknown>(run), join(run, CONFIG_FILE));
  const weights = join(run, MODEL_FILE);
  if (!(await stat(weights).then((s) => s.isFile(), () => false))) throw await missingWeights(run, config);
  return { config, weights };
}

/**
 * What to do with a run folder that has no complete checkpoint, in the same words wherever it is found
 * (--resume, predict, eval, export, a stopped run): nothing can continue it, so it starts again.
 */
export function restartAdvice(run: string, config: Record<string, unknown> | null): string {
  const data = typeof config?.data === 'string' ? config.data : 'CATEGORY_DIR';
  return `the run stopped before its first checkpoint, so nothing can continue it; start it again with \`gpuseg train --data ${data} --out ${run} --overwrite\` (and the flags its config.json records)`;
}

/** The error of a run folder without last.safetensors: resume it if it has a checkpoint, else start again. */
export async function missingWeights(run: string, config: Record<string, unknown> | null): Promise<InputError> {
  const weights = join(run, MODEL_FILE);
  const checkpointed = (await weightsStep(run, -1)) >= 0;
  const advice = checkpointed ? `its last checkpoint is complete: \`gpuseg train --resume ${run}\` continues it` : restartAdvice(run, config);
  return new InputError(`${weights}: not found (the run folder '${run}' has no final weights; ${advice})`);
}

/**
 * The step a run folder's final weights are from, of how many, and (when the run did not reach its last
 * step) the line that says so; null for a weights file or a folder without a readable config.json.
 */
export async function weightsOf(run: string): Promise<{ step: number; steps: number | null; unfinished: string | null } | null> {
  if (!(await stat(run).then((s) => s.isDirectory(), () => false))) return null;
  const config = await readConfig<Record<string, unknown>>(run).catch(() => null);
  if (!config) return null;
  const steps = Number.isSafeInteger(config.steps) ? (config.steps as number) : null;
  const step = await weightsStep(run, Number.isSafeInteger(config.step) ? (config.step as number) : 0);
  const unfinished = steps !== null && step < steps ? `weights of step ${step} of ${steps} (the run did not finish)` : null;
  return { step, steps, unfinished };
}
