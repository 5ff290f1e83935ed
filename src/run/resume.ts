// Where a run starts: from scratch, or (--resume) from the options and newest checkpoint recorded in
// its folder, with the log cut back to that checkpoint. Apart from the run (train/trainer.ts) it drives.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import { CONFIG_FILE, type FoundCheckpoint, latestCheckpoint, readConfig } from './checkpoint.js';
import type { TrainOptions } from './options.js';
import { recordedOptions } from './run-config.js';
import { restartAdvice } from './run-folder.js';
import { InputError } from '../util/errors.js';

/**
 * The options and checkpoint a run continues from: with `resume`, those recorded in `out` (its
 * config.json and newest complete checkpoint), else the options as given and none.
 */
export async function startingPoint(options: TrainOptions): Promise<{ options: TrainOptions; from: FoundCheckpoint | null; layout: unknown }> {
  if (!options.resume) return { options, from: null, layout: null };
  const config = await readConfig<Record<string, unknown>>(options.out);
  const recorded = recordedOptions(config, options.out, join(options.out, CONFIG_FILE));
  const from = await latestCheckpoint(options.out);
  if (!from) throw new InputError(`--resume: '${options.out}' has no complete checkpoint: ${restartAdvice(options.out, config)}`);
  const steps = options.steps ?? recorded.steps ?? 0;
  if (steps < (recorded.steps ?? 0)) throw new InputError(`--steps ${steps} with --resume: the run in '${options.out}' has ${recorded.steps} steps; --steps can only extend it`);
  if (from.state.step >= steps) {
    throw new InputError(`--resume: the run in '${options.out}' finished (step ${from.state.step} of ${recorded.steps}); --steps N (more than ${recorded.steps}) extends it`);
  }
  // Extended (--steps): the schedules (learning rate, paste-weight warm-up, feature ramp-up) are those
  // of a run of the new length, from the checkpoint's step on.
  return { options: { ...recorded, steps, device: options.device, adapter: options.adapter, resume: true }, from, layout: config.layout };
}

/**
 * A resumed run must draw the batches it was started with: a run of a gpuseg whose --batch held the
 * normal images (before they came on top) records another layout for the same options.
 */
export function checkResumedLayout(recorded: unknown, layout: object, out: string): void {
  const a = JSON.stringify(recorded ?? null);
  const b = JSON.stringify({ ...layout });
  if (a !== b) {
    throw new InputError(`--resume: the run in '${out}' was trained with batches of ${a}, this gpuseg composes ${b} from its settings; it cannot continue exactly: train it again with --overwrite`);
  }
}

/** A resumed run's log: the lines of steps up to the checkpoint (later ones are trained again). */
export async function truncateLog(path: string, step: number): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const kept = text.split('\n').filter((line) => {
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false; // an empty line, or the partial last line of a killed run
    }
  });
  await writeFileAtomic(path, new TextEncoder().encode(kept.map((l) => `${l}\n`).join('')));
}
