// The CPU reference with every kernel's output rounded to float32: the same computation as the
// float64 oracle, with float32's rounding at each op boundary. Its distance from the float64 result
// measures how far float32 arithmetic alone moves a whole network's outputs and gradients, which is
// what the GPU tolerance is derived from.
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';

function roundAll(v: unknown): unknown {
  if (v instanceof Float64Array) {
    for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]!);
    return v;
  }
  if (v && typeof v === 'object') for (const x of Object.values(v)) roundAll(x);
  return v;
}

/** Wraps every kernel of the CPU backend so its results (and in-place updates) are float32 values. */
export function float32Reference(): Backend {
  const base = new CpuBackend();
  const inPlace = new Set(['adam', 'batchNormTrain']);
  return new Proxy(base, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'download' || prop === 'free' || prop === 'arena') return value;
      return (...args: unknown[]) => {
        const out = value.apply(target, args);
        if (inPlace.has(String(prop))) args.forEach(roundAll);
        return roundAll(out);
      };
    },
  }) as Backend;
}
