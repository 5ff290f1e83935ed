// How the CLI ends: a clear one-line message and an exit code, never a stack trace (set GPUSEG_DEBUG=1
// for the trace).
import { EXIT_BAD_INPUT, EXIT_FAILED, InputError, isInputError } from '../util/errors.js';

export { InputError };

export function reportAndExit(err: unknown): never {
  if (process.env.GPUSEG_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`gpuseg: ${message.split('\n')[0]}\n`);
  process.exit(isInputError(err) ? EXIT_BAD_INPUT : EXIT_FAILED);
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
