// Files that must never be left half-written: checkpoints, weights, the tuning cache.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** An error's message on one line (for the CLI's one-line reports). */
export function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

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
    throw new Error(`${path}: cannot write (${errorMessage(err)})`);
  }
  await syncDirectory(dirname(path));
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
