// Checkpoints of a run folder. Each one is a consistent set, written into its own folder and renamed
// into place whole: checkpoints/step-NNNNNN/ holds the model (PyTorch's names and layouts), Adam's state
// and state.json (the step and the random stream's position). Then RUN/last.safetensors, the model that
// predict and eval load, becomes a hard link to the new model, config.json (first written before step
// 1) records the step, and older checkpoints go. A kill at any moment leaves the newest complete checkpoint folder, from which
// `train --resume` continues exactly; half-written folders (*.tmp) are removed at the next start.
import { copyFile, link, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Module } from '../model/module.js';
import { loadSafetensors, saveSafetensors } from '../model/safetensors.js';
import { exportStateDict, importStateDict } from '../model/state.js';
import { writeFileAtomic } from '../util/files.js';
import { InputError } from '../util/errors.js';

/**
 * What a checkpoint saves and restores of the optimizer: its moments and step (train/optimizer.ts's
 * Adam). Named here, by what is used, so that the run folder sits below the training code.
 */
export interface OptimizerState {
  readState(): Promise<{ m: Float32Array; v: Float32Array; step: number }>;
  loadState(m: Float32Array, v: Float32Array, step: number, source: string): void;
}

export const MODEL_FILE = 'last.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const CONFIG_FILE = 'config.json';
export const CHECKPOINTS_DIR = 'checkpoints';
const CHECKPOINT_MODEL = 'model.safetensors';
const STATE_FILE = 'state.json';
const STEP_DIGITS = 6;
const TEMPORARY = '.tmp';
const STATE_FORMAT = 'gpuseg-checkpoint/1';

/** What a checkpoint needs besides the weights and the optimizer to continue exactly. */
export interface CheckpointState {
  step: number;
  /** The training random stream's state before the batch of the next step was drawn. */
  rng: number;
}

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
const stepFolder = (step: number) => `step-${String(step).padStart(STEP_DIGITS, '0')}`;

async function saveOptimizer(path: string, opt: OptimizerState): Promise<void> {
  const { m, v, step } = await opt.readState();
  await saveSafetensors(
    path,
    [
      ['adam.m', { dtype: 'F32', shape: [m.length], data: m }],
      ['adam.v', { dtype: 'F32', shape: [v.length], data: v }],
    ],
    { step: String(step), layout: 'parameter arena, model.namedParameters() order' },
  );
}

/**
 * Replaces `path` with a hard link to `target` (atomically: a new link renamed over the old name), or
 * with a copy where the file system has no hard links.
 */
async function relink(target: string, path: string): Promise<void> {
  const temporary = `${path}${TEMPORARY}-${process.pid}`;
  await rm(temporary, { force: true });
  await link(target, temporary).catch(() => copyFile(target, temporary));
  await rename(temporary, path);
}

/**
 * Test hook: GPUSEG_FAULT=kill-in-checkpoint:N kills the process halfway through writing checkpoint N,
 * GPUSEG_FAULT=kill-before-config:N once checkpoint N and its links are in place, before config.json.
 */
function faultPoint(where: 'kill-in-checkpoint' | 'kill-before-config', step: number): void {
  if (process.env.GPUSEG_FAULT === `${where}:${step}`) process.kill(process.pid, 'SIGKILL');
}

/**
 * RUN/config.json: the run's settings and the step of its newest checkpoint. Written before the first
 * step (step 0) as well, so that a run killed at any moment has one to resume and predict with.
 */
export async function writeRunConfig(dir: string, config: object, step: number): Promise<void> {
  await writeFileAtomic(join(dir, CONFIG_FILE), json({ ...config, step }));
}

/**
 * Writes checkpoint `state.step` as one set (see the top of this file), then last.safetensors,
 * optimizer.safetensors (links into the set) and config.json, then drops older checkpoints.
 */
export async function saveCheckpoint(dir: string, model: Module, opt: OptimizerState | null, config: object, state: CheckpointState): Promise<void> {
  const root = join(dir, CHECKPOINTS_DIR);
  const name = stepFolder(state.step);
  const staging = join(root, `${name}${TEMPORARY}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await saveSafetensors(join(staging, CHECKPOINT_MODEL), await exportStateDict(model), { format: 'pt', producer: 'gpuseg' });
  faultPoint('kill-in-checkpoint', state.step);
  if (opt) await saveOptimizer(join(staging, OPTIMIZER_FILE), opt);
  await writeFileAtomic(join(staging, STATE_FILE), json({ format: STATE_FORMAT, ...state, optimizer: opt !== null }));
  const final = join(root, name);
  await rm(final, { recursive: true, force: true });
  await rename(staging, final);
  await relink(join(final, CHECKPOINT_MODEL), join(dir, MODEL_FILE));
  if (opt) await relink(join(final, OPTIMIZER_FILE), join(dir, OPTIMIZER_FILE));
  faultPoint('kill-before-config', state.step);
  await writeRunConfig(dir, config, state.step);
  for (const other of await readdir(root)) if (other !== name) await rm(join(root, other), { recursive: true, force: true });
}

export interface FoundCheckpoint {
  dir: string;
  state: CheckpointState & { optimizer: boolean };
}

/** The newest complete checkpoint of a run folder, or null; removes the half-written ones. */
export async function latestCheckpoint(dir: string): Promise<FoundCheckpoint | null> {
  const root = join(dir, CHECKPOINTS_DIR);
  const names = await readdir(root).catch(() => [] as string[]);
  let best: FoundCheckpoint | null = null;
  for (const name of names.sort()) {
    const path = join(root, name);
    if (name.endsWith(TEMPORARY)) {
      await rm(path, { recursive: true, force: true });
      continue;
    }
    try {
      const state = JSON.parse(await readFile(join(path, STATE_FILE), 'utf8')) as FoundCheckpoint['state'] & { format?: string };
      if (state.format === STATE_FORMAT && Number.isInteger(state.step) && (!best || state.step > best.state.step)) best = { dir: path, state };
    } catch {
      // Not a checkpoint (no readable state.json): a complete one is renamed into place with its state.
    }
  }
  return best;
}

/**
 * The step whose weights RUN/last.safetensors holds, read-only (a run may be writing the folder): the
 * checkpoint it is a hard link to, else the newest complete checkpoint, else config.json's step.
 */
export async function weightsStep(dir: string, configStep: number): Promise<number> {
  const { linked, newest } = await checkpointSteps(dir);
  return linked ?? newest ?? configStep;
}

/**
 * Read-only: the step of the complete checkpoint RUN/last.safetensors is a hard link to, and of the
 * newest complete checkpoint (the one --resume continues from); null where there is none.
 */
export async function checkpointSteps(dir: string): Promise<{ linked: number | null; newest: number | null }> {
  const root = join(dir, CHECKPOINTS_DIR);
  const last = await stat(join(dir, MODEL_FILE)).catch(() => null);
  let linked: number | null = null;
  let newest: number | null = null;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.endsWith(TEMPORARY)) continue;
    const state = await readFile(join(root, name, STATE_FILE), 'utf8').then((t) => JSON.parse(t) as { step?: unknown }, () => null);
    if (!state || !Number.isInteger(state.step)) continue;
    const step = state.step as number;
    const model = await stat(join(root, name, CHECKPOINT_MODEL)).catch(() => null);
    if (last && model && last.ino === model.ino && last.dev === model.dev) linked = step;
    newest = Math.max(newest ?? step, step);
  }
  return { linked, newest };
}

/** Loads a checkpoint's weights (and buffers) into `model` and its Adam state into `opt`. */
export async function loadCheckpoint(found: FoundCheckpoint, model: Module, opt: OptimizerState): Promise<void> {
  await loadModelWeights(model, join(found.dir, CHECKPOINT_MODEL));
  if (!found.state.optimizer) throw new InputError(`${found.dir}: this checkpoint has no optimizer state, so the run cannot be resumed`);
  const path = join(found.dir, OPTIMIZER_FILE);
  const tensors = await loadSafetensors(path);
  const m = tensors.get('adam.m');
  const v = tensors.get('adam.v');
  if (!m || !v || !(m.data instanceof Float32Array) || !(v.data instanceof Float32Array)) throw new InputError(`${path}: no adam.m and adam.v`);
  opt.loadState(m.data, v.data, found.state.step, path);
}

/** Loads a model file (ours or any file with the same names and shapes) into `model`. */
export async function loadModelWeights(model: Module, path: string): Promise<void> {
  importStateDict(model, await loadSafetensors(path), { source: path });
}

export async function readConfig<T>(dir: string): Promise<T> {
  const path = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: not found (is '${dir}' a gpuseg run folder?)`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new InputError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}
