// The experiment grid on a BullMQ queue in Redis: `gpuseg experiment --queue URL` enqueues one job per
// unfinished cell and waits; `gpuseg worker` (worker.ts) takes them. The cell folders on the shared
// disk stay the truth: a cell is finished when its cell.json exists, whatever Redis says, so a Redis
// that restarts empty, a stale job from an earlier run or a duplicate delivery cannot change a result.
// The jobs themselves (ids, data, timings) are in queue-jobs.ts, which the workers share.
import { join } from 'node:path';
import type { Job, Queue } from 'bullmq';
import { readCell } from './cell.js';
import { claimExperiment } from './claim.js';
import { type ExperimentOptions, type PlannedCell, cellSpec, checkGrid, planCells } from './grid.js';
import { ATTEMPTS, type CellJobData, type CellProgress, JOB_FORMAT, type QueueTimings, RETRY_DELAY_MS, absoluteSpec, jobId, openQueue, queueTimings } from './queue-jobs.js';
import { type CellResult } from './results.js';
import type { RedisTarget } from './redis.js';
import { collectCells, writeResults } from './runner.js';
import { errorMessage } from '../util/errors.js';

export type GridEvent =
  | { kind: 'queued'; cells: number; enqueued: number; finished: number }
  | { kind: 'progress'; cells: number; done: number; failed: number; running: number; steps: number; stepsDone: number }
  | { kind: 'cell-done'; index: number; cell: CellResult }
  | { kind: 'cell-failed'; index: number; cell: CellResult }
  | { kind: 'requeued'; names: string[] }
  | { kind: 'redis-down'; message: string }
  | { kind: 'redis-back' };

export interface GridResult {
  dir: string;
  cells: CellResult[];
  failed: CellResult[];
  enqueued: number;
  skipped: number;
}

/** What the waiting loop knows of each cell that has not ended. */
interface Pending {
  index: number;
  cell: PlannedCell;
  id: string;
  /** Last seen being trained: if Redis then forgets it, its worker may still be at it (see requeue). */
  wasActive: boolean;
  /** Polls since its job completed while no cell.json could be read (a folder that is not shared). */
  completedWithoutFile: number;
  progress: CellProgress | null;
}

/** Polls after a completed job before its missing cell.json counts as a failure (slow shared disks). */
const COMPLETED_WITHOUT_FILE_POLLS = 30;

class Grid {
  readonly pending = new Map<number, Pending>();
  readonly failures = new Map<number, string>();
  enqueued = 0;

  constructor(
    private readonly o: ExperimentOptions,
    private readonly queue: Queue<CellJobData, CellResult>,
    private readonly timings: QueueTimings,
    private readonly plan: PlannedCell[],
    private readonly onEvent: (e: GridEvent) => void,
  ) {}

  private add(p: Pending, delay = 0): Promise<Job<CellJobData, CellResult>> {
    const data: CellJobData = { format: JOB_FORMAT, index: p.index, cells: this.plan.length, spec: absoluteSpec(cellSpec(this.o, p.cell)) };
    return this.queue.add(p.id.split('@')[0]!, data, {
      jobId: p.id,
      attempts: ATTEMPTS,
      backoff: { type: 'fixed', delay: RETRY_DELAY_MS },
      delay,
    });
  }

  /**
   * Enqueues a cell unless its job is waiting or running already (a re-run while workers are at it).
   * A completed or failed job left from an earlier run is replaced: the cell has no cell.json, so that
   * job's end is stale (its folder was removed, or it failed and a re-run retries it).
   */
  async enqueue(p: Pending): Promise<void> {
    const job = await this.queue.getJob(p.id);
    if (job) {
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return;
      await job.remove();
    }
    await this.add(p);
    this.enqueued++;
  }

  /** Looks at every pending cell once; returns the names of cells Redis had lost and that were requeued. */
  async poll(): Promise<string[]> {
    const requeued: string[] = [];
    for (const p of [...this.pending.values()]) {
      const finished = await readCell(join(this.o.out, p.cell.run));
      if (finished) {
        this.end(p, finished);
        continue;
      }
      const job = await this.queue.getJob(p.id);
      if (!job) {
        await this.requeue(p);
        requeued.push(p.id.split('@')[0]!);
        continue;
      }
      await this.look(p, job);
    }
    return requeued;
  }

  /**
   * Redis forgot the cell (it restarted without persistence, or was flushed). A cell last seen running
   * may still be trained by its worker until that worker finds its lock gone (within half a lock
   * duration), so it comes back after one lock duration, not at once: two workers in one folder would
   * mix their logs.
   */
  private async requeue(p: Pending): Promise<void> {
    await this.add(p, p.wasActive ? this.timings.lockMs : 0);
    p.wasActive = false;
    this.enqueued++;
  }

  private async look(p: Pending, job: Job<CellJobData, CellResult>): Promise<void> {
    const state = await job.getState();
    if (state === 'unknown') {
      // Its record survived without its place in the queue (a partial flush): add() would keep it as it is.
      await job.remove();
      return this.requeue(p);
    }
    p.wasActive = state === 'active';
    p.progress = isProgress(job.progress) ? job.progress : null;
    if (state === 'failed') {
      const why = job.failedReason || 'no reason given';
      this.fail(p, `failed ${job.attemptsMade} time(s): ${why}`);
    } else if (state === 'completed' && ++p.completedWithoutFile > COMPLETED_WITHOUT_FILE_POLLS) {
      this.fail(p, `its worker finished it, but ${join(this.o.out, p.cell.run, 'cell.json')} is not here: is --out on storage every worker shares, at the same path?`);
    }
  }

  private end(p: Pending, cell: CellResult): void {
    this.pending.delete(p.index);
    this.onEvent({ kind: 'cell-done', index: p.index, cell });
  }

  private fail(p: Pending, error: string): void {
    this.pending.delete(p.index);
    this.failures.set(p.index, error);
    this.onEvent({ kind: 'cell-failed', index: p.index, cell: { ...p.cell, overall: null, perType: null, seconds: null, error } });
  }

  progressEvent(): GridEvent {
    const running = [...this.pending.values()].filter((p) => p.wasActive);
    const steps = this.o.steps ?? 0;
    const stepsDone = running.reduce((sum, p) => sum + (p.progress?.step ?? 0), 0);
    const done = this.plan.length - this.pending.size - this.failures.size;
    return { kind: 'progress', cells: this.plan.length, done, failed: this.failures.size, running: running.length, steps, stepsDone };
  }
}

function isProgress(value: unknown): value is CellProgress {
  const v = value as Partial<CellProgress> | null;
  return typeof v === 'object' && v !== null && typeof v.step === 'number' && typeof v.steps === 'number';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `gpuseg experiment --queue URL`: claims the experiment folder as a local run does, enqueues every
 * cell without cell.json, and waits until each has ended (finished, or failed ATTEMPTS times); then
 * writes results.json, results.md and report.html from the cell folders, in the grid's order, exactly
 * as a local run writes them (a failed cell is unfinished there, with its error in results.json).
 */
export async function runGridOnQueue(o: ExperimentOptions, target: RedisTarget, onEvent: (e: GridEvent) => void = () => {}): Promise<GridResult> {
  checkGrid(o);
  const timings = queueTimings();
  // Redis first: a wrong URL must leave --out as it was.
  const queue = await openQueue(target);
  // A lost connection shows in poll() below, which decides what it means; the client's own error
  // (ECONNREFUSED, ...) says why better than the failed command's.
  let lastError = '';
  queue.on('error', (err) => (lastError = err.message));
  try {
    await claimExperiment(o);
    const plan = planCells(o);
    const grid = new Grid(o, queue, timings, plan, onEvent);
    let skipped = 0;
    for (const [index, cell] of plan.entries()) {
      if (await readCell(join(o.out, cell.run))) skipped++;
      else grid.pending.set(index, { index, cell, id: jobId(o.out, cell), wasActive: false, completedWithoutFile: 0, progress: null });
    }
    for (const p of grid.pending.values()) await grid.enqueue(p);
    onEvent({ kind: 'queued', cells: plan.length, enqueued: grid.enqueued, finished: skipped });
    await waitForCells(grid, target, timings, onEvent, () => lastError);
    const failures = grid.failures;
    const cells = (await collectCells(o)).map((c, i) => (failures.has(i) && c.overall === null ? { ...c, error: failures.get(i)! } : c));
    await writeResults(o, cells);
    return { dir: o.out, cells, failed: cells.filter((c) => c.error !== undefined), enqueued: grid.enqueued, skipped };
  } finally {
    await queue.close().catch(() => {});
  }
}

/** Polls until no cell is pending; rides out a Redis outage of up to timings.downMs. */
async function waitForCells(grid: Grid, target: RedisTarget, timings: QueueTimings, onEvent: (e: GridEvent) => void, clientError: () => string): Promise<void> {
  let downSince: number | null = null;
  onEvent(grid.progressEvent());
  while (grid.pending.size > 0) {
    await sleep(timings.pollMs);
    try {
      const requeued = await grid.poll();
      if (downSince !== null) onEvent({ kind: 'redis-back' });
      downSince = null;
      if (requeued.length) onEvent({ kind: 'requeued', names: requeued });
    } catch (err) {
      const now = Date.now();
      const why = clientError() || errorMessage(err);
      if (downSince === null) onEvent({ kind: 'redis-down', message: why });
      downSince ??= now;
      if (now - downSince > timings.downMs) {
        throw new Error(`lost Redis at ${target.shown} for ${Math.round((now - downSince) / 1000)} s (${why}); the cells finished so far are kept, and the same command resumes the grid`);
      }
    }
    onEvent(grid.progressEvent());
  }
}
