// Checkpoints of a run folder: the model (last.safetensors, PyTorch's names and layouts), the Adam state
// (optimizer.safetensors) and the configuration (config.json). Every file is written atomically, so a
// crash leaves the previous checkpoint whole.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Module } from '../model/module.js';
import { loadSafetensors, saveSafetensors } from '../model/safetensors.js';
import { writeFileAtomic } from '../util/files.js';
import { exportStateDict, importStateDict } from '../model/state.js';
import type { Adam } from './optimizer.js';

export const MODEL_FILE = 'last.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const CONFIG_FILE = 'config.json';

export async function saveCheckpoint(dir: string, model: Module, opt: Adam | null, config: object): Promise<void> {
  await saveSafetensors(join(dir, MODEL_FILE), await exportStateDict(model), { format: 'pt', producer: 'gpuseg' });
  if (opt) {
    const { m, v, step } = await opt.readState();
    await saveSafetensors(
      join(dir, OPTIMIZER_FILE),
      [
        ['adam.m', { dtype: 'F32', shape: [m.length], data: m }],
        ['adam.v', { dtype: 'F32', shape: [v.length], data: v }],
      ],
      { step: String(step), layout: 'parameter arena, model.namedParameters() order' },
    );
  }
  await writeFileAtomic(join(dir, CONFIG_FILE), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
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
    throw new Error(`${path}: not found (is '${dir}' a gpuseg run folder?)`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}
