// Tuning the ResNet-34 UNet's conv kernels on one adapter (what `gpuseg tune` and `gpuseg train --tune`
// run): every distinct layer of the model at one batch and size, each conv kernel (src/kernels/conv/index.ts), the
// fastest variant kept in the adapter's tuning file, which is saved after each layer (an interrupted
// tuning keeps what it measured).
import type { Conv2dGeometry } from '../core/geometry.js';
import type { Gpu } from '../gpu/gpu.js';
import { loadAdapterTuning } from '../gpu/tuning.js';
import { shaderHash } from '../gpu/pipelines.js';
import { CONV_KERNELS, type ConvKernel, type ConvTuneResult, TUNED_CONV_KERNELS, tuneConvLayer } from '../kernels/conv/index.js';
import { unetShapes } from '../model/unet-shapes.js';

/** The batch predict and eval run inference at (src/evaluate/inference.ts). */
export const INFERENCE_BATCH = 4;

export interface TuneUnetOptions {
  batch: number;
  size: number;
  kernels: readonly ConvKernel[];
  /** Only the first n distinct layers. */
  layers?: number;
  /** Also the forward at the inference batch. */
  inference?: boolean;
  /** Skip what the tuning file already has. */
  skipTuned?: boolean;
  /** Progress of the layers measured (done, total, the current layer and kernel). */
  onProgress?: (done: number, total: number, what: string) => void;
  /** A problem with the existing tuning file (it is then started afresh). */
  onProblem?: (problem: string) => void;
}

export interface TuneRow {
  kernel: ConvKernel;
  layer: string;
  batch: number;
  result: ConvTuneResult;
}

export interface TuneSummary {
  adapter: string;
  file: string;
  entries: number;
  /** Layer kernels measured now, and those the file already had (skipped with skipTuned). */
  tuned: number;
  skipped: number;
  /** Entries of older shader text dropped from the file. */
  pruned: number;
  defaultMs: number;
  tunedMs: number;
}

/**
 * Tunes `kernels` on the UNet's distinct layers at (batch, size) on `gpu`, and the forward at the
 * inference batch with `inference`; loads and saves the adapter's file. With `skipTuned` a layer kernel
 * the file already has is not measured again.
 */
export async function tuneUnet(
  gpu: Gpu,
  o: TuneUnetOptions,
  onRow: (r: TuneRow) => void = () => {},
): Promise<TuneSummary> {
  const jobs: { kernel: ConvKernel; layer: string; batch: number; g: Conv2dGeometry }[] = [];
  for (const layer of unetShapes(o.batch, o.size).convs.slice(0, o.layers)) {
    for (const kernel of o.kernels) jobs.push({ kernel, layer: layer.name, batch: o.batch, g: layer.g });
  }
  if (o.inference && o.batch !== INFERENCE_BATCH && o.kernels.includes('conv2d')) {
    for (const layer of unetShapes(INFERENCE_BATCH, o.size).convs.slice(0, o.layers)) jobs.push({ kernel: 'conv2d', layer: layer.name, batch: INFERENCE_BATCH, g: layer.g });
  }
  const { table, path, problem } = await loadAdapterTuning(gpu.summary);
  if (problem) o.onProblem?.(problem);
  // Entries measured on older shader text: dropped from the file at the next save.
  const pruned = CONV_KERNELS.reduce((n, k) => n + table.pruneStale(k, shaderHash(TUNED_CONV_KERNELS[k].shaders)), 0);
  const todo = o.skipTuned ? jobs.filter((j) => table.get(TUNED_CONV_KERNELS[j.kernel].key(j.g)) === undefined) : jobs;
  const summary: TuneSummary = { adapter: gpu.summary.description, file: path, entries: 0, tuned: 0, skipped: jobs.length - todo.length, pruned, defaultMs: 0, tunedMs: 0 };
  for (const [i, job] of todo.entries()) {
    o.onProgress?.(i, todo.length, `${job.layer} ${job.kernel}`);
    const result = await tuneConvLayer(gpu, table, job.kernel, job.g);
    summary.tuned++;
    summary.defaultMs += result.defaultMs;
    summary.tunedMs += result.bestMs;
    onRow({ kernel: job.kernel, layer: job.layer, batch: job.batch, result });
    // Saved as it goes: an interrupted tuning keeps what it measured.
    if (i === todo.length - 1 || todo[i + 1]!.layer !== job.layer) await table.save(path);
  }
  o.onProgress?.(todo.length, todo.length, '');
  if (todo.length === 0 && pruned > 0) await table.save(path);
  summary.entries = table.size;
  return summary;
}

