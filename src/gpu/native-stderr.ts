// Dawn's notices about its own limit clamping, kept off the user's stderr.
//
// When Dawn reads an adapter's limits it prints, from native code straight to file descriptor 2,
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit ...
// (and the same for storage buffers): here on lavapipe, and by public reports on NVIDIA and AMD drivers
// too. A user can do nothing about it, and no toggle or requested limit avoids it, because it happens
// before any device exists. So the
// adapter request runs with descriptor 2 pointed at a temporary file (dup/dup2 through koffi, a
// maintained FFI library); afterwards the real stderr is put back, and every captured line except
// those notices is written to it: Dawn's real errors still reach the user.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The notices Dawn prints when it clamps an adapter's limits (see the top of this file). */
export const DAWN_LIMIT_NOTICE = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** `text` without Dawn's limit notices (whole lines only; everything else is kept as it is). */
export function withoutDawnNotices(text: string): string {
  return text
    .split(/(?<=\n)/)
    .filter((line) => !DAWN_LIMIT_NOTICE.test(line.replace(/\r?\n$/, '')))
    .join('');
}

interface Descriptors {
  dup(fd: number): number;
  dup2(from: number, to: number): number;
}

let descriptors: Descriptors | null | undefined;

/** dup and dup2 from the C library, or null where they cannot be had (then nothing is captured). */
function loadDescriptors(): Descriptors | null {
  if (descriptors !== undefined) return descriptors;
  descriptors = null;
  if (process.env.GPUSEG_DAWN_NOTICES === 'show' || process.platform === 'win32') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const libc = koffi.load(process.platform === 'darwin' ? 'libSystem.B.dylib' : 'libc.so.6');
    descriptors = { dup: libc.func('int dup(int)'), dup2: libc.func('int dup2(int, int)') };
  } catch {
    // No FFI on this platform: the notices stay visible, nothing else changes.
  }
  return descriptors;
}

/**
 * Runs `work` with native writes to stderr captured, then writes what was captured back to stderr,
 * less Dawn's limit notices. JavaScript's own stderr writes during `work` take the same path, in order.
 */
export async function filterNativeStderr<T>(work: () => Promise<T>): Promise<T> {
  const fds = loadDescriptors();
  if (!fds) return work();
  const folder = mkdtempSync(join(tmpdir(), 'gpuseg-stderr-'));
  const capture = openSync(join(folder, 'stderr'), 'w+');
  const saved = fds.dup(2);
  if (saved < 0 || fds.dup2(capture, 2) < 0) {
    if (saved >= 0) closeSync(saved);
    closeSync(capture);
    rmSync(folder, { recursive: true, force: true });
    return work();
  }
  try {
    return await work();
  } finally {
    fds.dup2(saved, 2);
    closeSync(saved);
    const captured = readFileSync(join(folder, 'stderr'), 'utf8');
    closeSync(capture);
    rmSync(folder, { recursive: true, force: true });
    const kept = withoutDawnNotices(captured);
    if (kept) process.stderr.write(kept);
  }
}
