// The values of a pickle as this reader makes them (pickle.ts runs the machine): None -> null, bool,
// int -> number (bigint beyond 2^53), float -> number, str -> string, bytes -> Uint8Array, tuple and
// list -> array, dict -> Map; and the whitelisted globals that REDUCE may call.

/** A whitelisted global that REDUCE may apply to an argument tuple. */
export class PickleCallable {
  constructor(
    readonly name: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

/** A short description of a value for error messages. */
export function describePickled(value: unknown): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return 'tuple or list';
  if (value instanceof Map) return 'dict';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PickleCallable) return `global ${value.name}`;
  if (typeof value === 'object') return value.constructor.name;
  return typeof value === 'string' ? 'str' : typeof value;
}

export function isMap(value: unknown): value is Map<unknown, unknown> {
  return value instanceof Map;
}
