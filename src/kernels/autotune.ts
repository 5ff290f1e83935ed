// The autotuner: runs each variant of a kernel (register tile, split) on one real shape, checks its
// output against the kernel's default variant, times it, and keeps the fastest in a tuning table. Tile
// sizes are measured per adapter, not guessed: what wins on a CPU Vulkan driver (small register tiles,
// loads shared through subgroup shuffles) need not win on a discrete GPU.
import { type BufferRef, type Gpu } from '../gpu/gpu.js';
import type { TuningTable } from '../gpu/tuning.js';
import { errorMessage } from '../util/errors.js';

export interface Tunable<T> {
  kernel: string;
  /** The tuning-table key of this kernel and shape (TuningTable.key). */
  key: string;
  /** Variants to measure; the first is the kernel's heuristic default and the cross-check's reference. */
  candidates: T[];
  /** Records one run of a variant and returns its output, which the tuner releases. */
  run(variant: T): BufferRef;
}

export interface CandidateResult<T> {
  variant: T;
  /** Milliseconds per run (the best round), absent when rejected. */
  ms?: number;
  /** Why the variant was not timed: it failed, or its output differs from the default's. */
  rejected?: string;
}

export interface TuneResult<T> {
  kernel: string;
  key: string;
  best: T;
  bestMs: number;
  defaultMs: number;
  results: CandidateResult<T>[];
}

export interface TuneOptions {
  /** Wall time of one timed round of a variant (ms); the runs per round follow from a first run. */
  roundMs?: number;
  /** Timed rounds per variant; the fastest counts (the others absorb interference). */
  rounds?: number;
}

/**
 * A software adapter runs a layer in milliseconds: 20 ms rounds keep a UNet's tuning to minutes. On
 * lavapipe the same kernel's time varies by up to 30% from one round to the next (two cores shared with
 * everything else), hence several rounds in turns and a confirmation race.
 */
const DEFAULT_ROUND_MS = 20;
const DEFAULT_ROUNDS = 3;
/**
 * A variant replaces the default only when faster by more than this fraction in the confirmation race:
 * a choice that flips with the noise gains nothing.
 */
export const MIN_GAIN = 0.05;
/** Runs per round at most (tiny kernels on a fast GPU would otherwise record thousands). */
const MAX_RUNS_PER_ROUND = 200;
/**
 * A variant's output may differ from the default's by this much, relative to the default's largest
 * |value|: both sum the same terms in different orders (rounding moves the result by about
 * sqrt(K) * 2^-24 of the terms' scale, far below this), while a wrong index moves it by O(1).
 */
const CHECK_TOLERANCE = 1e-3;

/** Largest |a - b| relative to the largest |b| (0 when both are all zero). */
export function relativeDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    // NaN never compares greater: count it as a failure explicitly.
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff === 0 ? 0 : scale === 0 ? Infinity : diff / scale;
}

async function runAndRead(gpu: Gpu, run: () => BufferRef): Promise<Float32Array> {
  const out = run();
  try {
    return await gpu.readF32(out);
  } finally {
    gpu.release(out);
  }
}

async function timeRuns(gpu: Gpu, run: () => BufferRef, runs: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < runs; i++) gpu.release(run());
  await gpu.sync();
  return (performance.now() - start) / runs;
}

/**
 * Measures every candidate and records the fastest in `table` under t.key. First each runs once
 * untimed (building its pipeline) and is cross-checked against the default; one that throws or
 * disagrees is rejected (the default itself must run). Then the candidates are timed in turns, round
 * after round, each keeping its best round, so that a slow spell of the machine falls on all of them
 * alike. Finally the winner and the default race in alternation: the winner replaces the default only if
 * it is faster by MIN_GAIN in the median of those races.
 */
export async function tune<T>(gpu: Gpu, table: TuningTable, t: Tunable<T>, o: TuneOptions = {}): Promise<TuneResult<T>> {
  if (t.candidates.length === 0) throw new Error(`tune ${t.kernel}: no candidates`);
  const roundMs = o.roundMs ?? DEFAULT_ROUND_MS;
  const rounds = o.rounds ?? DEFAULT_ROUNDS;
  const failed = (why: string) => new Error(`tune ${t.kernel}: the default variant ${JSON.stringify(t.candidates[0])} failed: ${why}`);
  let reference: Float32Array;
  try {
    reference = await runAndRead(gpu, () => t.run(t.candidates[0]!));
  } catch (err) {
    throw failed(errorMessage(err));
  }

  const results: CandidateResult<T>[] = [];
  const timed: { result: CandidateResult<T>; run: () => BufferRef; runs: number }[] = [];
  for (const variant of t.candidates) {
    const run = () => t.run(variant);
    try {
      const difference = relativeDifference(await runAndRead(gpu, run), reference);
      if (!(difference <= CHECK_TOLERANCE)) {
        results.push({ variant, rejected: `output differs from the default by ${difference.toExponential(2)} (relative)` });
        continue;
      }
      const first = await timeRuns(gpu, run, 1);
      const result: CandidateResult<T> = { variant, ms: first };
      results.push(result);
      timed.push({ result, run, runs: Math.max(1, Math.min(MAX_RUNS_PER_ROUND, Math.round(roundMs / Math.max(first, 1e-3)))) });
    } catch (err) {
      results.push({ variant, rejected: errorMessage(err) });
    }
  }
  if (results[0]!.rejected) throw failed(results[0]!.rejected);

  for (let r = 0; r < rounds; r++) {
    for (const c of timed) c.result.ms = Math.min(c.result.ms!, await timeRuns(gpu, c.run, c.runs));
  }
  const defaultMs = results[0]!.ms!;
  let best = timed[0]!;
  for (const c of timed) if (c.result.ms! < best.result.ms!) best = c;
  if (best !== timed[0] && !(await confirmFaster(gpu, best, timed[0]!, rounds))) best = timed[0]!;
  const bestMs = best.result.ms!;
  table.set(t.key, { choice: best.result.variant, ms: bestMs, defaultMs });
  return { kernel: t.kernel, key: t.key, best: best.result.variant, bestMs, defaultMs, results };
}

/** Whether `a` beats `b` by MIN_GAIN in the median of `races` alternating timings (at least 3). */
async function confirmFaster(gpu: Gpu, a: { run: () => BufferRef; runs: number }, b: { run: () => BufferRef; runs: number }, races: number): Promise<boolean> {
  const ratios: number[] = [];
  for (let i = 0; i < Math.max(3, races); i++) {
    const ta = await timeRuns(gpu, a.run, a.runs);
    const tb = await timeRuns(gpu, b.run, b.runs);
    ratios.push(ta / tb);
  }
  ratios.sort((x, y) => x - y);
  return ratios[Math.floor(ratios.length / 2)]! < 1 - MIN_GAIN;
}

/** Candidates without repeats (by their JSON), the first kept first. */
export function distinct<T>(candidates: T[]): T[] {
  const seen = new Set<string>();
  return candidates.filter((c) => {
    const k = JSON.stringify(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
