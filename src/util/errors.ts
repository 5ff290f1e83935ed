// The two ways a command can fail, so that a script can tell them apart by the exit code.

/**
 * Something the user gave is wrong (a flag, a file, a folder, a model): the message names it and the
 * problem, on one line, and is meant to be shown as it is. The CLI exits with EXIT_BAD_INPUT.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** An error's message on one line (for the CLI's one-line reports). */
export function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

/** Bad input: a flag, a data folder, an image, a weights or run file (nothing was changed). */
export const EXIT_BAD_INPUT = 2;
/** The work itself failed: training diverged, the GPU failed or ran out of memory, or a bug. */
export const EXIT_FAILED = 1;

/** Node's codes for a path that cannot be used as given: the user's path, in a CLI. */
const PATH_ERROR_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'EACCES', 'EPERM', 'EROFS', 'ENAMETOOLONG', 'ELOOP']);

/** Whether `err` is the user's to fix: an InputError, or a file system refusal of a path. */
export function isInputError(err: unknown): boolean {
  if (err instanceof InputError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && PATH_ERROR_CODES.has(code);
}
