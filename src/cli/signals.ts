// SIGINT and SIGTERM during `gpuseg train`: one line that says where the run stopped, which checkpoint
// it keeps and the command that continues it; then the process ends by the same signal, as it did
// before this handler (a shell reports 130 or 143). The run folder's lock goes with the process.
import { checkpointSteps, readConfig } from '../run/checkpoint.js';
import { restartAdvice } from '../run/run-folder.js';
import { releaseAllSync } from '../run/run-lock.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface StopWatch {
  /** The training's own progress: the last step done and the run's steps. */
  step(done: number, steps: number): void;
  /** Removes the handlers (the command ended by itself). */
  done(): void;
}

/** The line for a run stopped after step `done` of `steps` (0: unknown) in `run`. */
export async function stoppedLine(run: string, done: number, steps: number): Promise<string> {
  const { newest } = await checkpointSteps(run);
  const at = Math.max(done, newest ?? 0);
  if (newest === null) {
    const config = await readConfig<Record<string, unknown>>(run).catch(() => null);
    return `stopped at step ${at}; no checkpoint was written: ${restartAdvice(run, config)}`;
  }
  if (steps > 0 && newest >= steps) return `stopped after the last step (${steps}), its checkpoint kept; \`gpuseg eval --model ${run}\` evaluates it`;
  return `stopped at step ${at}; checkpoint ${newest} kept; \`gpuseg train --resume ${run}\` continues`;
}

/**
 * Until done(): on SIGINT or SIGTERM, `beforeLine` (stop the progress bar), the line on stderr, the
 * locks given back, and the same signal again, now with no handler (a second signal meanwhile ends the
 * process at once).
 */
export function watchStopSignals(run: string, beforeLine: () => void): StopWatch {
  let done = 0;
  let steps = 0;
  const handler = (signal: NodeJS.Signals) => {
    for (const s of SIGNALS) process.removeListener(s, handler);
    beforeLine();
    void stoppedLine(run, done, steps)
      .catch(() => `stopped at step ${done}`)
      .then((line) => {
        process.stderr.write(`gpuseg: ${line}\n`);
        releaseAllSync();
        process.kill(process.pid, signal);
      });
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    step(d, n) {
      done = Math.max(done, d);
      steps = n;
    },
    done() {
      for (const s of SIGNALS) process.removeListener(s, handler);
    },
  };
}
