// One writer per run folder: `train` (new, --overwrite, --resume) and an experiment's cells hold
// RUN/.gpuseg.lock while they write in RUN. The lock file names its holder (pid, host, the machine's
// boot) and is created whole and exclusively (a complete temporary file hard-linked to the name, which
// fails if the name exists). A lock whose holder is gone from this host (no such pid, another boot, or
// this very pid without this process holding it: containers reuse pids) is taken over, with a warning.
// A lock held by a process on another host cannot be checked, so it is never taken over.
import { readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { link, open, readFile, readdir, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { makeFolder, missingFolders } from '../util/files.js';
import { type TrainOptions, resolveOptions } from './options.js';

export const LOCK_FILE = '.gpuseg.lock';
const LOCK_FORMAT = 'gpuseg-lock/1';
/** Linux's id of this boot: a pid recorded before a reboot names no process of this one. */
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';
/** Tries at taking a lock whose holder is gone (another process may be taking it over at the same moment). */
const ATTEMPTS = 4;

interface Holder {
  format: string;
  pid: number;
  host: string;
  bootId: string | null;
  token: string;
  started: string;
}

export interface RunLock {
  readonly dir: string;
  /** Gives the lock back (the last of this process's holds on the folder removes the lock file). */
  release(): Promise<void>;
}

interface Held {
  token: string;
  count: number;
  /** Folders the lock created (outermost first), removed on release when still empty: a failed start leaves nothing. */
  created: string[];
}

/** The run folders this process holds, by absolute path. */
const held = new Map<string, Held>();

function bootId(): string | null {
  try {
    return readFileSync(BOOT_ID_FILE, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

const randomToken = () => `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

/**
 * Whether the holder of a lock may still be running: true when it cannot be known (another host).
 * `own`: the lock's token is one this process holds.
 */
function holderMayRun(h: Holder, own: boolean): boolean {
  if (h.host !== hostname()) return true;
  const boot = bootId();
  if (boot && h.bootId && boot !== h.bootId) return false;
  if (h.pid === process.pid) return own;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

async function readHolder(path: string): Promise<Holder | null> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Holder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.token === 'string' ? h : null;
  } catch {
    return null;
  }
}

/** Creates the lock file whole, or fails with EEXIST when there is one. */
async function createLock(path: string, holder: Holder): Promise<void> {
  const temporary = `${path}.${holder.token}.tmp`;
  const bytes = `${JSON.stringify(holder)}\n`;
  await writeFile(temporary, bytes).catch((err: NodeJS.ErrnoException) => {
    // Named as the lock, not its temporary name: a read-only or full disk is reported with it.
    throw Object.assign(new Error(`${path}: cannot write (${err.message})`), { code: err.code, path });
  });
  try {
    await link(temporary, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw err;
    // A file system without hard links: an exclusive create (a reader may see it half-written, and waits).
    const file = await open(path, 'wx');
    try {
      await file.writeFile(bytes);
    } finally {
      await file.close();
    }
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

/**
 * Removes the lock of a holder that is gone: moved aside first (a rename moves one file, atomically),
 * and put back if what was moved is not that holder's lock (another process took it over meanwhile).
 */
async function removeStale(path: string, stale: Holder): Promise<void> {
  const aside = `${path}.${randomToken()}.stale`;
  try {
    await rename(path, aside);
  } catch {
    return; // gone already: taken over by another process
  }
  const moved = await readHolder(aside);
  if (moved && moved.token !== stale.token) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

function inUse(dir: string, h: Holder | null): InputError {
  if (!h) return new InputError(`'${dir}' is in use by another gpuseg (its lock '${join(dir, LOCK_FILE)}' is being written or unreadable); wait for it or stop it`);
  const elsewhere = h.host !== hostname() ? ` (if it is gone, delete '${join(dir, LOCK_FILE)}')` : '';
  return new InputError(`'${dir}' is in use by gpuseg pid ${h.pid} on host ${h.host}; wait for it or stop it${elsewhere}`);
}

export interface LockOptions {
  /** The flag that named the folder, for errors ('--out'). */
  what: string;
  /** Create the folder and its missing parents (default), or refuse a missing one. */
  create?: boolean;
  /** Hears of a lock taken over from a process that is gone. */
  onWarning?: (message: string) => void;
}

/**
 * Takes the run folder `dir` for this process, creating it (and its missing parents) if needed. Refuses, as an InputError naming the holder, a folder another live process
 * holds. A process may take the same folder more than once (a cell, then its training); each take has
 * its release.
 */
export async function lockRun(dir: string, o: LockOptions): Promise<RunLock> {
  const { what, onWarning = () => {} } = o;
  const key = resolve(dir);
  const mine = held.get(key);
  if (mine) {
    mine.count++;
    return handle(dir, key);
  }
  const created = await missingFolders(dir, what);
  if (created.length && o.create === false) throw new InputError(`${what} '${dir}': no such folder`);
  await makeFolder(dir, what);
  const path = join(dir, LOCK_FILE);
  const holder: Holder = { format: LOCK_FORMAT, pid: process.pid, host: hostname(), bootId: bootId(), token: randomToken(), started: new Date().toISOString() };
  let gone: Holder | null = null;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await createLock(path, holder);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const other = await readHolder(path);
      if (!other && attempt < ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1))); // being written by its holder
        continue;
      }
      if (!other || holderMayRun(other, false) || attempt >= ATTEMPTS) throw inUse(dir, other);
      await removeStale(path, other);
      gone = other;
    }
  } catch (err) {
    await removeCreated(created);
    throw err;
  }
  held.set(key, { token: holder.token, count: 1, created });
  installExitHandler();
  const lock = handle(dir, key);
  try {
    if (gone) onWarning(`'${dir}' was locked by gpuseg pid ${gone.pid} on host ${gone.host}, which is no longer running; took it over`);
  } catch (err) {
    await lock.release(); // a listener that stops the run (a worker's shutdown)
    throw err;
  }
  return lock;
}

function handle(dir: string, key: string): RunLock {
  let released = false;
  return {
    dir,
    async release() {
      const h = held.get(key);
      if (released || !h) return;
      released = true;
      if (--h.count > 0) return;
      held.delete(key);
      const path = join(key, LOCK_FILE);
      if ((await readHolder(path))?.token === h.token) await unlink(path).catch(() => {});
      await removeCreated(h.created);
    },
  };
}

/** Removes the folders a lock created, innermost first, where they are still empty. */
async function removeCreated(created: string[]): Promise<void> {
  for (const folder of [...created].reverse()) if (!(await rmdir(folder).then(() => true, () => false))) return;
}

let exitHandler = false;

/** The locks still held when the process ends (an exit, or a signal handler that calls releaseAllSync) go with it. */
function installExitHandler(): void {
  if (exitHandler) return;
  exitHandler = true;
  process.on('exit', releaseAllSync);
}

/** Gives back every lock this process holds, synchronously (for exit and signal handlers). */
export function releaseAllSync(): void {
  for (const [key, h] of held) {
    const path = join(key, LOCK_FILE);
    try {
      if ((JSON.parse(readFileSync(path, 'utf8')) as Holder).token === h.token) unlinkSync(path);
    } catch {
      // gone already
    }
    for (const folder of [...h.created].reverse()) {
      try {
        rmdirSync(folder);
      } catch {
        break;
      }
    }
  }
  held.clear();
}

/** Empties a run folder this process holds, all but its lock (an experiment cell that starts again). */
export async function emptyLockedFolder(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n !== LOCK_FILE).map((n) => rm(join(dir, n), { recursive: true, force: true })));
}

/**
 * The lock of a training run's folder, taken after the checks that need no folder: a refused flag
 * creates nothing, and --resume never creates its folder.
 */
export async function lockForTraining(options: TrainOptions, onWarning: (message: string) => void): Promise<RunLock> {
  if (!options.resume) resolveOptions(options);
  return lockRun(options.out, { what: options.resume ? '--resume' : '--out', create: !options.resume, onWarning });
}
