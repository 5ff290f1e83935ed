// The JavaScript API around a trained model: load a run folder (or a weights file) onto a device, and
// predict probability maps for images.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_RESIZE, type ResizePolicy, readImage } from '../data/index.js';
import { type ModelStorage, materialize } from '../model/module.js';
import { Unet } from '../model/unet.js';
import { rng } from '../util/random.js';
import { CONFIG_FILE, MODEL_FILE, loadModelWeights, readConfig } from '../run/checkpoint.js';
import { type Device, type DeviceKind, openDevice } from '../backend/open.js';
import { predictProbabilities } from './inference.js';
import { InputError } from '../util/errors.js';
import { TRAIN_DEFAULTS } from '../run/options.js';
import { checkRunConfig } from '../run/run-config.js';
import { missingWeights } from '../run/run-folder.js';
import { GpuLostError, GpuMemoryError } from '../gpu/errors.js';
// Type only: tiled-predict imports this file.
import type { Tiling } from './tiles.js';

export interface LoadedModel {
  model: Unet;
  device: Device;
  /** The square input size the model was trained at. */
  size: number;
  /** The run's config.json, when loaded from a run folder. */
  config: Record<string, unknown> | null;
  /** How a non-square image becomes size x size: the run's config.json `resize` (default stretch). */
  resize?: ResizePolicy;
  close(): void;
}

export interface LoadOptions {
  device?: DeviceKind;
  adapter?: string;
  /** The input size when `path` is a bare weights file (a run folder records its own). */
  size?: number;
}

/** Loads a run folder (config.json + last.safetensors) or a .safetensors file with the UNet's names. */
export async function loadModel(path: string, o: LoadOptions = {}): Promise<LoadedModel> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new InputError(`${path}: no such run folder or weights file`);
  }
  const config = info.isDirectory() ? checkRunConfig(await readConfig<unknown>(path), join(path, CONFIG_FILE)) : null;
  const weights = info.isDirectory() ? join(path, MODEL_FILE) : path;
  const size = config?.size ?? o.size ?? TRAIN_DEFAULTS.size;
  if (!Number.isInteger(size) || size % 32 !== 0) throw new InputError(`${path}: bad input size ${size}`);
  if (info.isDirectory() && !(await stat(weights).then((s) => s.isFile(), () => false))) throw await missingWeights(path, config);
  const device = await openDevice(o.device ?? 'gpu', o.adapter);
  const model = new Unet();
  let storage: ModelStorage | null = null;
  try {
    storage = materialize(model, device.backend, rng(0));
    await loadModelWeights(model, weights);
  } catch (err) {
    storage?.params.destroy();
    storage?.buffers.destroy();
    device.close();
    throw err;
  }
  model.setTraining(false);
  const s = storage;
  return {
    model,
    device,
    size,
    config,
    resize: (config?.resize as ResizePolicy | undefined) ?? DEFAULT_RESIZE,
    close: () => {
      s.params.destroy();
      s.buffers.destroy();
      device.close();
    },
  };
}

/** Probability maps (size x size, row-major) for image files or RGB arrays already at the model's size. */
export async function predict(loaded: LoadedModel, images: (string | Float32Array)[]): Promise<Float32Array[]> {
  const rgb = await Promise.all(images.map((im) => (typeof im === 'string' ? readImage(im, loaded.size, loaded.resize) : Promise.resolve(im))));
  for (const [i, im] of rgb.entries()) {
    if (im.length !== loaded.size * loaded.size * 3) {
      throw new Error(`predict: image ${i} has ${im.length} values, expected ${loaded.size}x${loaded.size}x3`);
    }
  }
  return predictProbabilities(loaded.model, loaded.device.backend, rgb, loaded.size);
}

/**
 * Out of GPU memory or a lost device during predict or eval, as one line naming what ran. Resized to
 * the model's size, that size cannot be made smaller without retraining, so the way out is another
 * device; in tiles, fewer tiles per pass (--tile-batch) come first, then a smaller tile.
 */
export function inferenceTrouble(err: unknown, what: 'predicting' | 'evaluating', loaded: LoadedModel, batch: number, tiling: Tiling | null = null): unknown {
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const at = tiling
    ? `in ${tiling.tile}x${tiling.tile} tiles${tiling.scale === 1 ? '' : ` (images at their size times ${tiling.scale})`}, ${plural(tiling.batch, 'tile')} at a time`
    : `at the model's size ${loaded.size}x${loaded.size}, ${plural(batch, 'image')} at a time`;
  if (err instanceof GpuMemoryError) {
    const held = (err.heldBytes / 2 ** 20).toFixed(0);
    const smaller = !tiling ? '' : tiling.batch > 1 ? `--tile-batch ${Math.floor(tiling.batch / 2)}, then ` : 'a smaller --tile, or ';
    return new Error(`out of GPU memory ${what} ${at}, with ${held} MiB of buffers in use ("${err.detail}"); try ${smaller}another --adapter or --device cpu`);
  }
  if (err instanceof GpuLostError) return new Error(`${err.message} while ${what} ${at}; what was written before it is complete`);
  return err;
}
