// `gpuseg worker --queue URL`: runs cells of experiments enqueued with `gpuseg experiment --queue URL`,
// one at a time, until SIGINT or SIGTERM, which abandon the current cell at its next step (its last
// checkpoint stays, and the cell goes back to the queue for any worker to continue). With
// --concurrency N it runs N such workers as child processes: each has its own device and its own
// autograd state, which two cells in one process would share.
import { spawn } from 'node:child_process';
import { queueTimings } from '../experiment/queue-jobs.js';
import { parseRedisUrl } from '../experiment/redis.js';
import { type WorkerEvent, startWorker } from '../experiment/worker.js';
import { EXIT_FAILED } from '../util/errors.js';
import { trainProgress } from './train.js';

export interface WorkerCliOptions {
  queue: string;
  concurrency: number;
  adapter?: string;
}

/** Exit status of a worker quit by a second signal, as a shell reports it (128 + the signal's number). */
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/** Signals closer together than this are one request, delivered twice. */
const DUPLICATE_SIGNAL_MS = 1_000;

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Lines and a bar per cell on stderr; Redis errors once each until another one comes. */
function workerOutput(shown: string): (e: WorkerEvent) => void {
  let bar: ReturnType<typeof trainProgress> | null = null;
  let lastError = '';
  return (e) => {
    if (e.kind === 'ready') {
      say(`worker ${process.pid}: waiting for cells on ${shown} (queue ${e.queue})`);
    } else if (e.kind === 'cell') {
      const how = e.resumedFrom === null ? 'starting' : `continuing from the checkpoint of step ${e.resumedFrom}`;
      say(`cell ${e.name}: attempt ${e.attempt}/${e.attempts}, ${how}`);
      bar = trainProgress(false, e.name);
    } else if (e.kind === 'train') {
      bar?.onEvent(e.event);
    } else if (e.kind === 'redis-error') {
      if (e.message !== lastError) say(`worker ${process.pid}: Redis: ${e.message}`);
      lastError = e.message;
    } else {
      bar?.stop();
      bar = null;
      if (e.kind === 'cell-done') say(`cell ${e.name}: ${e.cell.overall ? `defect IoU ${e.cell.overall.iou.toFixed(3)}` : 'no metrics'} in ${e.cell.seconds?.toFixed(0)} s`);
      else if (e.kind === 'cell-failed') say(`cell ${e.name} failed (attempt ${e.attempt}/${e.attempts}): ${e.error}`);
      else say(`cell ${e.name} abandoned: ${e.why}`);
    }
  };
}

export async function runWorkerCli(o: WorkerCliOptions): Promise<void> {
  const target = parseRedisUrl(o.queue);
  queueTimings(); // a bad GPUSEG_QUEUE_* is an input error now, not at the first cell
  if (o.concurrency > 1) return runChildren(o);
  const worker = await startWorker(target, { adapter: o.adapter, onEvent: workerOutput(target.shown) });
  const signal = await new Promise<'SIGINT' | 'SIGTERM'>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  say(`worker ${process.pid}: ${signal}: abandoning the current cell at its next step (again to quit at once)`);
  // A signal can arrive twice at once: from the terminal or systemd to the whole process group, and
  // from a --concurrency parent passing it on. Only a later one means "quit now".
  const first = Date.now();
  const quit = () => Date.now() - first > DUPLICATE_SIGNAL_MS && process.exit(SIGNAL_EXIT[signal]);
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  await worker.stop();
  // Stopped as asked, with its cell back in the queue: a clean end.
  process.exit(0);
}

/** N workers of one cell at a time each, as child processes; signals are passed on, the worst status returned. */
async function runChildren(o: WorkerCliOptions): Promise<void> {
  const args = [...process.execArgv, process.argv[1]!, 'worker', '--queue', o.queue, '--concurrency', '1', ...(o.adapter ? ['--adapter', o.adapter] : [])];
  const children = Array.from({ length: o.concurrency }, () => spawn(process.execPath, args, { stdio: 'inherit' }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => children.forEach((c) => c.kill(signal)));
  const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => c.on('exit', (code) => resolve(code ?? EXIT_FAILED)))));
  process.exit(Math.max(...codes));
}
