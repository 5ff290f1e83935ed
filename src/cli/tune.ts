// `gpuseg tune`: measures the conv kernels' variants on every distinct layer of the ResNet-34 UNet at
// one batch and size, on this adapter, and keeps the fastest of each in the adapter's tuning file, which
// train, predict, eval and bench then read (GPUSEG_TUNING=off ignores it). The file is saved after each
// layer, so an interrupted tuning keeps what it measured.
import { Gpu } from '../gpu/gpu.js';
import { unetInputProblem } from '../model/unet.js';
import { CONV_KERNELS, type ConvKernel, tuneConvLayer } from '../kernels/convTuning.js';
import { UsageError } from './errors.js';
import { progress } from './progress.js';

export interface TuneCliOptions {
  batch: number;
  size: number;
  kernels?: string;
  layers?: number;
  json?: boolean;
  adapter?: string;
}

function parseKernels(list: string | undefined): ConvKernel[] {
  if (!list) return [...CONV_KERNELS];
  const names = list.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of names) {
    if (!(CONV_KERNELS as readonly string[]).includes(k)) throw new UsageError(`--kernels: unknown kernel '${k}' (known: ${CONV_KERNELS.join(', ')})`);
  }
  return names as ConvKernel[];
}

const ms = (x: number) => x.toFixed(3);

export async function runTune(o: TuneCliOptions): Promise<void> {
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new UsageError(problem);
  const kernels = parseKernels(o.kernels);
  const { unetShapes } = await import('../../bench/unet-shapes.js');
  const layers = unetShapes(o.batch, o.size).convs.slice(0, o.layers);
  const gpu = await Gpu.open({ adapter: o.adapter });
  try {
    const previous = await gpu.loadTuning();
    if (previous.problem) process.stderr.write(`gpuseg: ${previous.problem}\n`);
    const adapter = gpu.summary.description;
    const bar = progress('tune', layers.length * kernels.length, { quiet: o.json, fields: ['layer'] });
    if (!o.json) process.stdout.write(`tuning ${layers.length} layers x ${kernels.length} kernels of the ResNet-34 UNet at batch ${o.batch}, ${o.size}x${o.size}, on ${adapter}\n`);
    let defaultTotal = 0;
    let tunedTotal = 0;
    const lines: string[] = [];
    for (const [i, layer] of layers.entries()) {
      for (const [k, kernel] of kernels.entries()) {
        bar.update(i * kernels.length + k, { layer: `${layer.name} ${kernel}` });
        const r = await tuneConvLayer(gpu, kernel, layer.g);
        defaultTotal += r.defaultMs;
        tunedTotal += r.bestMs;
        const rejected = r.results.filter((c) => c.rejected).map((c) => ({ variant: c.variant, why: c.rejected }));
        const row = { kernel, layer: layer.name, defaultMs: r.defaultMs, tunedMs: r.bestMs, speedup: r.defaultMs / r.bestMs, choice: r.best, candidates: r.results.length, rejected };
        if (o.json) process.stdout.write(`${JSON.stringify(row)}\n`);
        else lines.push(`${kernel.padEnd(17)} ${layer.name.padEnd(26)} ${ms(r.defaultMs).padStart(9)} -> ${ms(r.bestMs).padStart(9)} ms  ${JSON.stringify(r.best)}${rejected.length ? `  (${rejected.length} rejected)` : ''}`);
      }
      await gpu.tuning.save(gpu.tuningFile);
    }
    bar.update(layers.length * kernels.length);
    bar.stop();
    const summary = { adapter, batch: o.batch, size: o.size, file: gpu.tuningFile, entries: gpu.tuning.size, defaultMs: defaultTotal, tunedMs: tunedTotal, speedup: defaultTotal / tunedTotal };
    if (o.json) process.stdout.write(`${JSON.stringify({ summary })}\n`);
    else {
      process.stdout.write(`${'kernel'.padEnd(17)} ${'layer'.padEnd(26)} ${'default'.padStart(9)}    ${'tuned'.padStart(9)}\n${lines.join('\n')}\n`);
      process.stdout.write(`conv time, each distinct layer once: ${ms(defaultTotal)} ms -> ${ms(tunedTotal)} ms (${summary.speedup.toFixed(2)}x); ${summary.entries} entries in ${summary.file}\n`);
    }
  } finally {
    gpu.destroy();
  }
}
