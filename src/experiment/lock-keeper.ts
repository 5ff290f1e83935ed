// Keeps a worker's lock on its cell alive from a thread of its own. BullMQ renews locks on the main
// thread's event loop, which training blocks for seconds at a time (Dawn builds pipelines and waits for
// the GPU synchronously: on lavapipe a cell's first step holds the thread for tens of seconds), so the
// lock would expire under a healthy worker and a second worker start the same cell in the same folder.
// The thread dies with its process, so a killed worker still loses its cell after one lock duration.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Job, Queue } from 'bullmq';
import { type RedisTarget, withRetries } from './redis.js';

interface KeeperData {
  kind: 'gpuseg-lock-keeper';
  target: RedisTarget;
  queue: string;
  jobId: string;
  token: string;
  lockMs: number;
}

/** What the thread tells the worker: the lock is someone else's now (or gone with a Redis restart). */
const LOST = 'lost';

export interface LockKeeper {
  stop(): Promise<void>;
}

/** A thread from this module's own file; from source (under tsx, in tests) it needs tsx's loader too. */
function thread(data: KeeperData): Worker {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new Worker(self, { workerData: data });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(self.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

/** Renews the lock every half lock duration until stop(); calls onLost once if the lock is not ours any more. */
export function keepLock(o: Omit<KeeperData, 'kind'>, onLost: () => void): LockKeeper {
  const worker = thread({ kind: 'gpuseg-lock-keeper', ...o });
  worker.on('message', (message) => message === LOST && onLost());
  // A keeper that cannot start leaves the lock to expire: the cell moves on to another worker, as after a kill.
  worker.on('error', () => {});
  return { stop: () => worker.terminate().then(() => {}) };
}

async function keep(data: KeeperData): Promise<void> {
  const connection = withRetries(data.target);
  connection.connected(); // the worker has connected already: from here on, outages are ridden out
  const queue = new Queue(data.queue, { connection: connection.options });
  queue.on('error', () => {}); // a lost connection only delays the next renewal
  const renew = async () => {
    try {
      const job = await Job.fromId(queue, data.jobId);
      const renewed = job ? await job.extendLock(data.token, data.lockMs) : 0;
      if (!renewed) parentPort!.postMessage(LOST);
    } catch {
      // Redis unreachable: try again at the next tick; the lock holds for a whole lock duration.
    }
  };
  await renew();
  setInterval(renew, data.lockMs / 2);
}

const isKeeperData = (d: unknown): d is KeeperData => (d as Partial<KeeperData> | null)?.kind === 'gpuseg-lock-keeper';

if (!isMainThread && isKeeperData(workerData)) void keep(workerData);
