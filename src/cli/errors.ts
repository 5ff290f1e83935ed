// How the CLI ends: a clear one-line message and an exit code, never a stack trace (set GPUSEG_DEBUG=1
// for the trace).
import { NoAdapterError } from '../gpu/adapter.js';

/** An error whose message is meant for the user as it is. */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_NO_ADAPTER = 2;

export function reportAndExit(err: unknown): never {
  if (process.env.GPUSEG_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`gpuseg: ${message.split('\n')[0]}\n`);
  const code = err instanceof NoAdapterError ? EXIT_NO_ADAPTER : err instanceof UsageError ? err.exitCode : 1;
  process.exit(code);
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export function positiveInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
    return n;
  };
}

export function nonNegativeInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got '${value}'`);
    return n;
  };
}

export function positiveNumber(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got '${value}'`);
    return n;
  };
}

export function nonNegativeNumber(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number, got '${value}'`);
    return n;
  };
}
