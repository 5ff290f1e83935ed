// The experiment folder's claim: experiment.json, written once by whichever process starts the
// experiment first, and checked by every later one (a resume, a `--cell` pod, `--collect`).
import { link, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonBytes, makeFolder } from '../util/files.js';
import type { ExperimentOptions } from './grid.js';
import { RESULTS_FORMAT } from './results.js';
import { InputError } from '../util/errors.js';

export const EXPERIMENT_FILE = 'experiment.json';

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
    await writeFile(temporary, jsonBytes(settingsOf(o)));
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

/** `--collect`: the folder must have been claimed, with these settings. */
export async function checkClaimedBefore(o: ExperimentOptions): Promise<void> {
  const path = join(o.out, EXPERIMENT_FILE);
  if (!(await exists(path))) throw new InputError(`--collect: '${o.out}' holds no ${EXPERIMENT_FILE} (no cell of this experiment has run)`);
  await checkClaimed(path, o);
}
