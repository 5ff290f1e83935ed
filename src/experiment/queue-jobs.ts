// The queue's jobs as both of its sides see them: the queue, a cell's job (its id, data and progress)
// and the timings, shared by `experiment --queue` (queue.ts) and the workers (worker.ts).
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { CellSpec, PlannedCell } from './grid.js';
import type { CellResult } from './results.js';
import { type RedisTarget, firstConnection, withRetries } from './redis.js';
import { PRETRAINED_NAME } from '../model/pretrained.js';
import { InputError } from '../util/errors.js';

/** One queue for every experiment: workers need only the URL, and job ids carry the experiment. */
export const QUEUE_NAME = 'gpuseg-cells';
/** A cell that fails this many times is failed for good (reported in results.json, not retried). */
export const ATTEMPTS = 3;
/** Pause between a failed attempt and the next one, so that another idle worker may take it. */
export const RETRY_DELAY_MS = 3_000;
export const JOB_FORMAT = 'gpuseg-cell-job/1';

export interface CellJobData {
  format: typeof JOB_FORMAT;
  /** Position in the grid's fixed order, and the grid's size (for messages). */
  index: number;
  cells: number;
  spec: CellSpec;
}

/** What a worker reports through job.updateProgress while a cell trains. */
export interface CellProgress {
  step: number;
  steps: number;
}

/** Timings of the queue, from the environment (tests shorten them); every process of a grid reads the same. */
export interface QueueTimings {
  /** A worker's lock on its cell: a worker silent this long (killed, frozen) loses the cell to another. */
  lockMs: number;
  /** How often each worker looks for cells whose worker lost its lock. */
  stalledMs: number;
  /** How often `experiment --queue` looks at its cells. */
  pollMs: number;
  /** How long `experiment --queue` waits for a Redis it lost before giving up (exit 1). */
  downMs: number;
}

const TIMING_ENV: Record<keyof QueueTimings, [name: string, defaultMs: number]> = {
  // A cell's evaluation sorts every pixel score on the main thread (seconds at 256x256), during which
  // the lock is not renewed: a minute leaves a wide margin.
  lockMs: ['GPUSEG_QUEUE_LOCK_MS', 60_000],
  stalledMs: ['GPUSEG_QUEUE_STALLED_MS', 30_000],
  pollMs: ['GPUSEG_QUEUE_POLL_MS', 1_000],
  downMs: ['GPUSEG_QUEUE_DOWN_MS', 300_000],
};

export function queueTimings(env: NodeJS.ProcessEnv = process.env): QueueTimings {
  const timings = {} as QueueTimings;
  for (const [key, [name, fallback]] of Object.entries(TIMING_ENV) as [keyof QueueTimings, [string, number]][]) {
    const text = env[name];
    if (text === undefined || text === '') {
      timings[key] = fallback;
      continue;
    }
    if (!/^\d+$/.test(text) || Number(text) < 1) throw new InputError(`${name} must be a positive number of milliseconds, got '${text}'`);
    timings[key] = Number(text);
  }
  return timings;
}

/**
 * The job id of a cell: its name, qualified by its experiment folder (15 categories share one queue and
 * the same cell names), so that enqueueing a cell twice is a no-op. BullMQ ids must not hold ':'.
 */
export function jobId(out: string, cell: PlannedCell): string {
  const experiment = createHash('sha256').update(resolve(out)).digest('hex').slice(0, 12);
  return `${cell.run.split('/').pop()}@${experiment}`;
}

/** A queue connected once (or a one-line error naming the URL), reconnecting for as long as it lives. */
export async function openQueue(target: RedisTarget): Promise<Queue<CellJobData, CellResult>> {
  const connection = withRetries(target);
  const queue = new Queue<CellJobData, CellResult>(QUEUE_NAME, { connection: connection.options });
  try {
    await firstConnection(target, queue);
  } catch (err) {
    await queue.close().catch(() => {});
    throw err;
  }
  connection.connected();
  return queue;
}

/** The job's paths made absolute: a worker runs in another folder, on another machine. */
export function absoluteSpec(spec: CellSpec): CellSpec {
  const options = { ...spec.options, data: resolve(spec.options.data) };
  // `imagenet` is a name, not a path: each worker resolves it in its own cache.
  if (options.encoderWeights && options.encoderWeights !== PRETRAINED_NAME) options.encoderWeights = resolve(options.encoderWeights);
  return { ...spec, out: resolve(spec.out), options };
}
