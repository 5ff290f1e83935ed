// `gpuseg tune` (and `gpuseg train --tune`): measures the conv kernels' variants on every distinct layer
// of the ResNet-34 UNet at one batch and size, on this adapter, and keeps the fastest of each in the
// adapter's tuning file, which train, predict, eval and bench then read (GPUSEG_TUNING=off ignores it).
// The file is saved after each layer, so an interrupted tuning keeps what it measured.
import { Gpu } from '../gpu/gpu.js';
import { unetInputProblem } from '../model/unet.js';
import { unetShapes } from '../model/unet-shapes.js';
import { CONV_KERNELS, type ConvKernel, type ConvTuneResult, tuneConvLayer } from '../kernels/convTuning.js';
import type { Conv2dGeometry } from '../core/geometry.js';
import { shaderHash } from '../gpu/pipelines.js';
import { CONV2D_SHADERS, conv2dTuningKey } from '../kernels/conv2d.js';
import { INPUT_GRAD_SHADERS, WEIGHT_GRAD_SHADERS, inputGradTuningKey, weightGradTuningKey } from '../kernels/conv2dGrad.js';
import { InputError } from './errors.js';
import { progress } from './progress.js';

export interface TuneCliOptions {
  batch: number;
  size: number;
  kernels?: string;
  layers?: number;
  /** Also the forward conv at the batch predict and eval run (4). */
  inference?: boolean;
  json?: boolean;
  adapter?: string;
}

/** The batch predict and eval run inference at (src/train/inference.ts). */
const INFERENCE_BATCH = 4;

function parseKernels(list: string | undefined): ConvKernel[] {
  if (!list) return [...CONV_KERNELS];
  const names = list.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of names) {
    if (!(CONV_KERNELS as readonly string[]).includes(k)) throw new InputError(`--kernels: unknown kernel '${k}' (known: ${CONV_KERNELS.join(', ')})`);
  }
  return names as ConvKernel[];
}

const TUNING_KEY = { conv2d: conv2dTuningKey, conv2dInputGrad: inputGradTuningKey, conv2dWeightGrad: weightGradTuningKey };
const SHADERS = { conv2d: CONV2D_SHADERS, conv2dInputGrad: INPUT_GRAD_SHADERS, conv2dWeightGrad: WEIGHT_GRAD_SHADERS };

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
  o: { batch: number; size: number; kernels: ConvKernel[]; layers?: number; inference?: boolean; skipTuned?: boolean; quiet?: boolean },
  onRow: (r: TuneRow) => void = () => {},
): Promise<TuneSummary> {
  const jobs: { kernel: ConvKernel; layer: string; batch: number; g: Conv2dGeometry }[] = [];
  for (const layer of unetShapes(o.batch, o.size).convs.slice(0, o.layers)) {
    for (const kernel of o.kernels) jobs.push({ kernel, layer: layer.name, batch: o.batch, g: layer.g });
  }
  if (o.inference && o.batch !== INFERENCE_BATCH && o.kernels.includes('conv2d')) {
    for (const layer of unetShapes(INFERENCE_BATCH, o.size).convs.slice(0, o.layers)) jobs.push({ kernel: 'conv2d', layer: layer.name, batch: INFERENCE_BATCH, g: layer.g });
  }
  const previous = await gpu.loadTuning();
  if (previous.problem) process.stderr.write(`gpuseg: ${previous.problem}\n`);
  // Entries measured on older shader text: dropped from the file at the next save.
  const pruned = CONV_KERNELS.reduce((n, k) => n + gpu.tuning.pruneStale(k, shaderHash(SHADERS[k])), 0);
  const todo = o.skipTuned ? jobs.filter((j) => gpu.tuning.get(TUNING_KEY[j.kernel](j.g)) === undefined) : jobs;
  const bar = progress('tune', todo.length, { quiet: o.quiet || todo.length === 0, fields: ['layer'] });
  const summary: TuneSummary = { adapter: gpu.summary.description, file: gpu.tuningFile, entries: 0, tuned: 0, skipped: jobs.length - todo.length, pruned, defaultMs: 0, tunedMs: 0 };
  try {
    for (const [i, job] of todo.entries()) {
      bar.update(i, { layer: `${job.layer} ${job.kernel}` });
      const result = await tuneConvLayer(gpu, job.kernel, job.g);
      summary.tuned++;
      summary.defaultMs += result.defaultMs;
      summary.tunedMs += result.bestMs;
      onRow({ kernel: job.kernel, layer: job.layer, batch: job.batch, result });
      // Saved as it goes: an interrupted tuning keeps what it measured.
      if (i === todo.length - 1 || todo[i + 1]!.layer !== job.layer) await gpu.tuning.save(gpu.tuningFile);
    }
    bar.update(todo.length);
    if (todo.length === 0 && pruned > 0) await gpu.tuning.save(gpu.tuningFile);
  } finally {
    bar.stop();
  }
  summary.entries = gpu.tuning.size;
  return summary;
}

const ms = (x: number) => x.toFixed(3);

export async function runTune(o: TuneCliOptions): Promise<void> {
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new InputError(problem);
  const kernels = parseKernels(o.kernels);
  const gpu = await Gpu.open({ adapter: o.adapter });
  try {
    if (!o.json) process.stdout.write(`tuning the conv kernels of the ResNet-34 UNet at batch ${o.batch}, ${o.size}x${o.size}, on ${gpu.summary.description}\n`);
    const lines: string[] = [];
    const summary = await tuneUnet(gpu, { ...o, kernels, quiet: o.json }, ({ kernel, layer, batch, result: r }) => {
      const rejected = r.results.filter((c) => c.rejected).map((c) => ({ variant: c.variant, why: c.rejected }));
      const row = { kernel, layer, batch, defaultMs: r.defaultMs, tunedMs: r.bestMs, speedup: r.defaultMs / r.bestMs, choice: r.best, candidates: r.results.length, rejected };
      if (o.json) process.stdout.write(`${JSON.stringify(row)}\n`);
      else lines.push(`${kernel.padEnd(17)} ${`${layer}${batch !== o.batch ? ` (batch ${batch})` : ''}`.padEnd(36)} ${ms(r.defaultMs).padStart(9)} -> ${ms(r.bestMs).padStart(9)} ms  ${JSON.stringify(r.best)}${rejected.length ? `  (${rejected.length} rejected)` : ''}`);
    });
    const out = { ...summary, batch: o.batch, size: o.size, speedup: summary.defaultMs / summary.tunedMs };
    if (o.json) process.stdout.write(`${JSON.stringify({ summary: out })}\n`);
    else {
      process.stdout.write(`${'kernel'.padEnd(17)} ${'layer'.padEnd(36)} ${'default'.padStart(9)}    ${'tuned'.padStart(9)}\n${lines.join('\n')}\n`);
      process.stdout.write(`conv time, each distinct layer once: ${ms(out.defaultMs)} ms -> ${ms(out.tunedMs)} ms (${out.speedup.toFixed(2)}x); ${out.entries} entries in ${out.file}\n`);
    }
  } finally {
    gpu.destroy();
  }
}

/**
 * `gpuseg train --tune`: tunes what the adapter's file lacks for this training shape (and inference),
 * on a device of its own that is closed before training opens one. Says what it did on stderr.
 */
export async function tuneBeforeTraining(o: { batch: number; size: number; adapter?: string; quiet?: boolean }): Promise<TuneSummary> {
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new InputError(problem);
  const gpu = await Gpu.open({ adapter: o.adapter });
  try {
    const start = performance.now();
    const s = await tuneUnet(gpu, { batch: o.batch, size: o.size, kernels: [...CONV_KERNELS], inference: true, skipTuned: true, quiet: o.quiet });
    if (!o.quiet) {
      process.stderr.write(`tuned ${s.tuned} layer kernels in ${((performance.now() - start) / 1000).toFixed(0)} s (${s.skipped} already in ${s.file})\n`);
    }
    return s;
  } finally {
    gpu.destroy();
  }
}
