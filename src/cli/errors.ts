// How the CLI ends: a clear one-line message and an exit code, never a stack trace (set GPUSEG_DEBUG=1
// for the trace).
import { dirname } from 'node:path';
import { EXIT_BAD_INPUT, EXIT_FAILED, InputError, errorMessage, isInputError } from '../util/errors.js';

export { InputError };

export function reportAndExit(err: unknown): never {
  if (process.env.GPUSEG_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  const trouble = fileSystemTrouble(err);
  const message = trouble?.message ?? (err instanceof Error ? err.message : String(err));
  process.stderr.write(`gpuseg: ${message.split('\n')[0]}\n`);
  process.exit(trouble?.exit ?? (isInputError(err) ? EXIT_BAD_INPUT : EXIT_FAILED));
}

/** The error codes of a disk that is full (or a quota used up) and of a file system mounted read-only. */
const DISK_FULL = /\b(ENOSPC|EDQUOT)\b/;
const READ_ONLY = /\bEROFS\b/;

/**
 * A full disk or a read-only file system, said in those words with the folder or file, whatever wrote
 * it (a checkpoint, the log, a PNG): a disk that filled up is the work failing (exit 1); a read-only
 * place is the user's path (exit 2).
 */
export function fileSystemTrouble(err: unknown): { message: string; exit: number } | null {
  const e = (err ?? {}) as { code?: unknown; path?: unknown; message?: unknown };
  const text = `${typeof e.code === 'string' ? e.code : ''} ${typeof e.message === 'string' ? e.message : ''}`;
  const path = typeof e.path === 'string' ? e.path : null;
  if (DISK_FULL.test(text)) {
    const where = path === null ? errorMessage(err) : `no space left in '${dirname(path)}' (writing '${path}')`;
    return { message: `disk full: ${where}`, exit: EXIT_FAILED };
  }
  if (READ_ONLY.test(text)) {
    return { message: `read-only file system: ${path === null ? errorMessage(err) : `cannot write '${path}'`}`, exit: EXIT_BAD_INPUT };
  }
  return null;
}

/** Decimal digits only: Number() would also take '0x10', '1e3', ' 8 ' and '' (as 0). */
const DECIMAL_INTEGER = /^\d+$/;
/** A plain decimal number, with an optional exponent ('3e-4'); no hex, no sign but an exponent's, no spaces. */
const DECIMAL_NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function integerFlag(flag: string, min: number, what: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!DECIMAL_INTEGER.test(value) || !Number.isSafeInteger(n) || n < min) throw new InputError(`${flag} must be ${what}, got '${value}'`);
    return n;
  };
}

function numberFlag(flag: string, positive: boolean, what: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!DECIMAL_NUMBER.test(value) || !Number.isFinite(n) || (positive && n === 0)) throw new InputError(`${flag} must be ${what}, got '${value}'`);
    return n;
  };
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export const positiveInt = (flag: string) => integerFlag(flag, 1, 'a positive integer');
export const nonNegativeInt = (flag: string) => integerFlag(flag, 0, 'a non-negative integer');
export const positiveNumber = (flag: string) => numberFlag(flag, true, 'a positive number');
export const nonNegativeNumber = (flag: string) => numberFlag(flag, false, 'a non-negative number');

/** Parses a number from 0 up to (not including) 1 (a threshold, a rate), naming the flag when it is not one. */
export function belowOne(flag: string, what: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!DECIMAL_NUMBER.test(value) || !(n >= 0 && n < 1)) throw new InputError(`${flag} must be ${what} from 0 up to (not including) 1, got '${value}'`);
    return n;
  };
}
