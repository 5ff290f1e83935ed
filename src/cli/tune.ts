// `gpuseg tune` (and `gpuseg train --tune`): measures the conv kernels' variants on every distinct layer
// of the ResNet-34 UNet at one batch and size, on this adapter, and keeps the fastest of each in the
// adapter's tuning file, which train, predict, eval and bench then read (GPUSEG_TUNING=off ignores it).
// The file is saved after each layer, so an interrupted tuning keeps what it measured.
import { Gpu } from '../gpu/gpu.js';
import { unetInputProblem } from '../model/unet.js';
import { CONV_KERNELS, type ConvKernel, type TuneSummary, type TuneUnetOptions, tuneUnet } from '../tune/index.js';
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

function parseKernels(list: string | undefined): ConvKernel[] {
  if (!list) return [...CONV_KERNELS];
  const names = list.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of names) {
    if (!(CONV_KERNELS as readonly string[]).includes(k)) throw new InputError(`--kernels: unknown kernel '${k}' (known: ${CONV_KERNELS.join(', ')})`);
  }
  return names as ConvKernel[];
}

const ms = (x: number) => x.toFixed(3);

/** The progress bar (stderr) and the tuning file's problems, for tuneUnet. */
function cliHooks(quiet: boolean | undefined): Pick<TuneUnetOptions, 'onProgress' | 'onProblem'> & { stop(): void } {
  let bar: ReturnType<typeof progress> | null = null;
  return {
    onProblem: (problem) => process.stderr.write(`gpuseg: ${problem}\n`),
    onProgress: (done, total, what) => {
      if (quiet || total === 0) return;
      bar ??= progress('tune', total, { fields: ['layer'] });
      bar.update(done, { layer: what });
    },
    stop: () => bar?.stop(),
  };
}

export async function runTune(o: TuneCliOptions): Promise<void> {
  const problem = unetInputProblem(o.batch, o.size);
  if (problem) throw new InputError(problem);
  const kernels = parseKernels(o.kernels);
  const gpu = await Gpu.open({ adapter: o.adapter });
  try {
    if (!o.json) process.stdout.write(`tuning the conv kernels of the ResNet-34 UNet at batch ${o.batch}, ${o.size}x${o.size}, on ${gpu.summary.description}\n`);
    const lines: string[] = [];
    const hooks = cliHooks(o.json);
    const summary = await tuneUnet(gpu, { ...o, kernels, ...hooks }, ({ kernel, layer, batch, result: r }) => {
      const rejected = r.results.filter((c) => c.rejected).map((c) => ({ variant: c.variant, why: c.rejected }));
      const row = { kernel, layer, batch, defaultMs: r.defaultMs, tunedMs: r.bestMs, speedup: r.defaultMs / r.bestMs, choice: r.best, candidates: r.results.length, rejected };
      if (o.json) process.stdout.write(`${JSON.stringify(row)}\n`);
      else lines.push(`${kernel.padEnd(17)} ${`${layer}${batch !== o.batch ? ` (batch ${batch})` : ''}`.padEnd(36)} ${ms(r.defaultMs).padStart(9)} -> ${ms(r.bestMs).padStart(9)} ms  ${JSON.stringify(r.best)}${rejected.length ? `  (${rejected.length} rejected)` : ''}`);
    }).finally(() => hooks.stop());
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
    const hooks = cliHooks(o.quiet);
    const s = await tuneUnet(gpu, { batch: o.batch, size: o.size, kernels: CONV_KERNELS, inference: true, skipTuned: true, ...hooks }).finally(() => hooks.stop());
    if (!o.quiet) {
      process.stderr.write(`tuned ${s.tuned} layer kernels in ${((performance.now() - start) / 1000).toFixed(0)} s (${s.skipped} already in ${s.file})\n`);
    }
    return s;
  } finally {
    gpu.destroy();
  }
}
