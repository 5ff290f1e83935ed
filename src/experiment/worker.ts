// `gpuseg worker`: takes cells from the experiment queue and runs each with runCell, the same code a
// local `gpuseg experiment` runs, into the experiment folder the job names (shared storage). The cell's
// result goes back as the job's return value; cell.json on disk is what counts (see queue.ts).
// A worker that dies mid-cell loses its lock; another worker's stalled check hands the cell on, and
// runCell continues it from its last checkpoint.
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { ImageCache } from '../data/index.js';
import type { DeviceKind } from '../backend/open.js';
import type { TrainContext, TrainEvent } from '../train/trainer.js';
import { errorMessage, isInputError } from '../util/errors.js';
import { type CellJobData, type CellProgress, JOB_FORMAT, QUEUE_NAME, queueTimings } from './queue-jobs.js';
import { keepLock } from './lock-keeper.js';
import { type RedisTarget, firstConnection, withRetries } from './redis.js';
import type { CellResult } from './results.js';
import { runCell } from './cell.js';
import type { CellSpec } from './grid.js';
import { isVariant } from './variants.js';

export type WorkerEvent =
  | { kind: 'ready'; queue: string }
  | { kind: 'cell'; name: string; attempt: number; attempts: number; resumedFrom: number | null }
  | { kind: 'train'; name: string; event: TrainEvent }
  | { kind: 'cell-done'; name: string; cell: CellResult }
  | { kind: 'cell-failed'; name: string; error: string; attempt: number; attempts: number }
  | { kind: 'cell-abandoned'; name: string; why: string }
  | { kind: 'redis-error'; message: string };

export interface WorkerOptions {
  /** This worker's adapter (--adapter / GPUSEG_ADAPTER); else the one the job names, if any. */
  adapter?: string;
  onEvent?: (e: WorkerEvent) => void;
}

export interface RunningWorker {
  /** Abandons the current cell at its next step (its last checkpoint stays; the job goes back to the queue) and closes. */
  stop(): Promise<void>;
}

/** Why a cell stopped early: the signal's reason. */
const SHUTDOWN = 'the worker is shutting down';
const LOCK_LOST = 'the worker lost its lock on the cell (Redis restarted, or lost the lock while unreachable)';
/** At most one progress report to Redis per this long: a step on a GPU takes milliseconds. */
const PROGRESS_EVERY_MS = 2_000;

class CellAbandoned extends Error {
  constructor(readonly why: string) {
    super(`cell abandoned: ${why}`);
  }
}

/** The job's data checked: a malformed job (another program's, another gpuseg's format) is never retried. */
function readJob(job: Job<CellJobData, CellResult>): CellSpec {
  const d = job.data as Partial<CellJobData> | null;
  const cell = d?.spec?.cell;
  const ok =
    d?.format === JOB_FORMAT &&
    typeof d.spec?.out === 'string' &&
    typeof d.spec.options?.data === 'string' &&
    typeof cell?.run === 'string' &&
    isVariant(String(cell.variant)) &&
    Number.isInteger(cell.shots) &&
    Number.isInteger(cell.splitSeed);
  if (!ok) throw new UnrecoverableError(`job ${job.id} is not a gpuseg cell of format ${JOB_FORMAT}`);
  return d.spec!;
}

/** One device per worker process, reopened when a job asks for another kind or after a failure. */
class Devices {
  readonly ctx: TrainContext = { images: new ImageCache(), verified: new Set() };
  private kind: DeviceKind | null = null;

  prepare(kind: DeviceKind): void {
    if (this.kind !== kind) this.reset();
    this.kind = kind;
  }

  /** After a failure the device may be lost or full: the next cell opens a fresh one. */
  reset(): void {
    this.ctx.device?.close();
    delete this.ctx.device;
    this.kind = null;
  }
}

export async function startWorker(target: RedisTarget, o: WorkerOptions = {}): Promise<RunningWorker> {
  const timings = queueTimings();
  const onEvent = o.onEvent ?? (() => {});
  const devices = new Devices();

  // Three parameters: BullMQ passes an AbortSignal only to a processor that takes one.
  const processor = async (job: Job<CellJobData, CellResult>, token?: string, signal?: AbortSignal): Promise<CellResult> => {
    const spec = readJob(job);
    const name = job.name;
    const options = { ...spec.options, adapter: o.adapter ?? spec.options.adapter };
    // Stopped by a shutdown (BullMQ's signal) or by the lock keeper finding the lock gone.
    const stop = new AbortController();
    signal?.addEventListener('abort', () => stop.abort(signal.reason));
    const keeper = keepLock({ target, queue: QUEUE_NAME, jobId: job.id!, token: token ?? '', lockMs: timings.lockMs }, () => stop.abort(LOCK_LOST));
    devices.prepare(options.device ?? 'gpu');
    let reported = 0;
    const onTrain = (event: TrainEvent) => {
      // Training has no cancel of its own; an event is where it can stop, at most one step late.
      if (stop.signal.aborted) throw new CellAbandoned(String(stop.signal.reason));
      if (event.kind === 'step' && (Date.now() - reported > PROGRESS_EVERY_MS || event.step === event.steps)) {
        reported = Date.now();
        const progress: CellProgress = { step: event.step, steps: event.steps };
        job.updateProgress(progress).catch(() => {}); // progress is a courtesy; the cell goes on without it
      }
      onEvent({ kind: 'train', name, event });
    };
    const attempt = { attempt: job.attemptsMade + 1, attempts: job.opts.attempts ?? 1 };
    const onStart = (resumedFrom: number | null) => onEvent({ kind: 'cell', name, ...attempt, resumedFrom });
    try {
      const cell = await runCell({ ...spec, options }, devices.ctx, onTrain, onStart);
      onEvent({ kind: 'cell-done', name, cell });
      return cell;
    } catch (err) {
      // Awaited here, so that its rejection has a handler before the finally block waits for the keeper.
      if (err instanceof CellAbandoned) return await abandon(job, token, err, name);
      if (!isInputError(err)) devices.reset();
      const message = errorMessage(err);
      onEvent({ kind: 'cell-failed', name, error: message, ...attempt });
      throw new Error(message);
    } finally {
      await keeper.stop();
    }
  };

  /** Shutdown: the job goes back to waiting without using an attempt. Lock lost: it is not ours any more. */
  const abandon = async (job: Job<CellJobData, CellResult>, token: string | undefined, err: CellAbandoned, name: string): Promise<never> => {
    onEvent({ kind: 'cell-abandoned', name, why: err.why });
    if (err.why === SHUTDOWN && token) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    throw err;
  };

  const connection = withRetries(target);
  const worker = new Worker<CellJobData, CellResult>(QUEUE_NAME, processor, {
    connection: connection.options,
    autorun: false,
    concurrency: 1,
    lockDuration: timings.lockMs,
    stalledInterval: timings.stalledMs,
    // A cell may lose its worker twice (killed, machine gone) and still be run a third time.
    maxStalledCount: 2,
    // The lock keeper's thread renews the lock: this thread is blocked for seconds by training.
    skipLockRenewal: true,
  });
  try {
    await firstConnection(target, worker);
  } catch (err) {
    await worker.close(true).catch(() => {});
    throw err;
  }
  connection.connected();
  worker.on('error', (err) => onEvent({ kind: 'redis-error', message: errorMessage(err) }));
  worker.run().catch((err: unknown) => onEvent({ kind: 'redis-error', message: errorMessage(err) }));
  onEvent({ kind: 'ready', queue: QUEUE_NAME });
  return {
    async stop() {
      worker.cancelAllJobs(SHUTDOWN);
      await worker.close();
      devices.reset();
    },
  };
}
