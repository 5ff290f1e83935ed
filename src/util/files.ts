// Files that must never be left half-written: checkpoints, weights, the tuning cache.
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError, errorMessage } from './errors.js';

// Kept importable from here, where it always was; it lives in errors.ts, which a browser page can load.
export { errorMessage };

/**
 * Writes PATH.tmp-<pid>, syncs it, then renames it over PATH: a crash leaves the old file or the new
 * one, never half of one. The directory is synced too, so the rename itself survives a power cut.
 * Throws an Error whose message starts with the path.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    // The cause's code (ENOENT, EACCES, ENOSPC, ...) goes with it: a path the user gave is theirs to fix.
    throw Object.assign(new Error(`${path}: cannot write (${errorMessage(err)})`), { code: (err as { code?: unknown }).code, path });
  }
  await syncDirectory(dirname(path));
}

/** A JSON file's bytes as the project writes them: two-space indent, one newline at the end. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * An append-only file of whole lines (a run's log.jsonl): each line is written in one call and synced
 * to disk before the next one starts. Writes are queued, so the caller (the training loop) never waits
 * for the disk; `close()` waits for every line and reports the first failure, naming the file.
 */
export class LineLog {
  private handle: Promise<FileHandle> | null = null;
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  constructor(readonly path: string) {}

  append(line: string): void {
    if (line.includes('\n')) throw new Error(`${this.path}: a log line must not contain a newline`);
    if (!this.handle) {
      this.handle = open(this.path, 'a');
      this.handle.catch(() => {}); // reported through the queue below, not as an unhandled rejection
    }
    const handle = this.handle;
    this.queue = this.queue.then(async () => {
      if (this.failure) return;
      try {
        const file = await handle;
        await file.write(`${line}\n`);
        await file.datasync();
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        this.failure = Object.assign(new Error(`${this.path}: cannot append (${errorMessage(err)})`), { code, path: this.path });
      }
    });
  }

  /** Waits until every line appended so far is on disk; throws the first write failure. */
  async flush(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure;
  }

  /** Waits for every queued line; throws the first write failure. */
  async close(): Promise<void> {
    await this.queue;
    const handle = this.handle;
    this.handle = null;
    if (handle) await (await handle.catch(() => null))?.close();
    if (this.failure) throw this.failure;
  }
}

/** Best effort: some platforms (Windows) cannot open a directory for syncing. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The file itself is complete; only the rename's durability is left to the OS.
  }
}

/**
 * The folders missing on the way to `path` (outermost first), after checking that what exists of it is
 * folders: `what` names the flag ('--out') in the error. Creates nothing.
 */
export async function missingFolders(path: string, what: string): Promise<string[]> {
  const missing: string[] = [];
  let dir = resolve(path);
  for (;;) {
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
      throw new InputError(`${what} '${path}': cannot use '${dir}' (${err.code ?? err.message})`);
    });
    if (info) {
      if (!info.isDirectory()) throw new InputError(`${what} '${path}': '${dir}' is a file, not a folder`);
      return missing;
    }
    missing.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) return missing;
    dir = parent;
  }
}

/**
 * Creates the folder a user named (`what`: '--out'), with its missing parents, one level at a time:
 * Node's recursive mkdir spins forever on a path under /proc (ENOENT from a folder that exists), and
 * its errors do not say which flag gave the path.
 */
export async function makeFolder(path: string, what: string): Promise<void> {
  for (const folder of await missingFolders(path, what)) {
    try {
      await mkdir(folder);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await stat(folder)).isDirectory()) continue;
      throw new InputError(`${what} '${path}': cannot create '${folder}' (${code ?? errorMessage(err)})`);
    }
  }
}
