// A small seeded PRNG (mulberry32) and helpers: tests, data splits and augmentation are reproducible.

export type Rng = () => number;

export function rng(seed: number): Rng {
  return new RandomStream(seed).next;
}

/** mulberry32 whose position can be saved and restored: a training run's stream, kept with its checkpoints. */
export class RandomStream {
  /** The whole state: one 32-bit word. */
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next number in [0, 1); a bound function, to hand on as an Rng. */
  readonly next: Rng = () => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi), rounded to float32 so GPU and reference start from the same numbers. */
export function uniform(r: Rng, size: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Standard normal values (Box-Muller), as float32. */
export function normal(r: Rng, size: number, std = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = std * Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < size) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}
