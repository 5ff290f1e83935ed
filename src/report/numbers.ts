// The numeric helpers of the reports: axis ticks (linear and log), downsampling of long series, and the
// formatting of metrics. Pure functions, unit-tested with hand-computed values.

export interface Point {
  x: number;
  y: number;
}

/** Tick steps are 1, 2 or 5 times a power of ten: the values a person reads off an axis at a glance. */
const NICE_MULTIPLES = [1, 2, 5] as const;
/** Rough step / magnitude below which each multiple is chosen (the geometric midpoints, rounded). */
const NICE_CUTS = [1.5, 3, 7] as const;
/** Slack for floating-point error when testing whether a tick lies inside a range. */
const EPSILON = 1e-9;

/** A 1-2-5 step that splits `span` into about `target` intervals. */
export function niceStep(span: number, target: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const rough = span / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const residual = rough / magnitude;
  for (let i = 0; i < NICE_CUTS.length; i++) if (residual < NICE_CUTS[i]!) return NICE_MULTIPLES[i]! * magnitude;
  return 10 * magnitude;
}

/** Decimals that show a multiple of `step` exactly (step is 1, 2 or 5 times a power of ten). */
export function stepDecimals(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + EPSILON));
}

/** A range widened when it is empty, so that a constant series still gets an axis. */
function widen(min: number, max: number): [number, number] {
  if (max > min) return [min, max];
  const pad = min === 0 ? 1 : Math.abs(min) / 2;
  return [min - pad, max + pad];
}

/** The range [min, max] widened outwards to whole steps of its nice step: the domain of a linear y axis. */
export function niceDomain(min: number, max: number, target = 5): [number, number] {
  const [lo, hi] = widen(min, max);
  const step = niceStep(hi - lo, target);
  const decimals = stepDecimals(step);
  return [round(Math.floor(lo / step + EPSILON) * step, decimals), round(Math.ceil(hi / step - EPSILON) * step, decimals)];
}

/** The multiples of a nice step that lie inside [min, max] (about `target` intervals). */
export function niceTicks(min: number, max: number, target = 5): number[] {
  const [lo, hi] = widen(min, max);
  const step = niceStep(hi - lo, target);
  const decimals = stepDecimals(step);
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - EPSILON); k * step <= hi + EPSILON * step; k++) ticks.push(round(k * step, decimals));
  return ticks;
}

/** Over a span of up to this many decades, a log axis also ticks at 2 and 5 times each power of ten. */
const LOG_FINE_DECADES = 2;
/** Beyond this many decades, a log axis ticks only every few decades. */
const LOG_MAX_DECADE_TICKS = 6;

/** Ticks of a log axis over [min, max] (both > 0): 1-2-5 values for narrow ranges, decades otherwise. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max >= min)) throw new Error(`logTicks needs 0 < min <= max, got ${min}, ${max}`);
  const first = Math.floor(Math.log10(min) + EPSILON);
  const last = Math.ceil(Math.log10(max) - EPSILON);
  const span = Math.log10(max / min);
  const inside = (v: number) => v >= min * (1 - EPSILON) && v <= max * (1 + EPSILON);
  const decadeTicks = (every: number) => {
    const ticks: number[] = [];
    for (let e = Math.ceil(first / every) * every; e <= last; e += every) if (inside(10 ** e)) ticks.push(powerOfTen(e));
    return ticks;
  };
  if (span > LOG_FINE_DECADES) {
    const ticks = decadeTicks(Math.ceil(span / LOG_MAX_DECADE_TICKS));
    if (ticks.length >= 2) return ticks;
  }
  const fine: number[] = [];
  for (let e = first; e <= last; e++) {
    for (const m of NICE_MULTIPLES) {
      const v = round(m * 10 ** e, Math.max(0, -e));
      if (inside(v)) fine.push(v);
    }
  }
  return fine;
}

/** 10^e without the float noise of 10 ** -3 (0.0010000000000000002). */
function powerOfTen(e: number): number {
  return e >= 0 ? 10 ** e : round(10 ** e, -e);
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(Math.min(decimals, 20)));
}

/** A tick label: enough decimals for the step, no trailing noise; 1e-4 style below a thousandth. */
export function formatTick(value: number, step?: number): string {
  if (value === 0) return '0';
  if (step === undefined) {
    // Log ticks: each is 1, 2 or 5 times a power of ten.
    const magnitude = Math.abs(value);
    if (magnitude < 1e-3 || magnitude >= 1e5) return value.toExponential(0).replace('e+', 'e');
    return String(value);
  }
  return value.toFixed(stepDecimals(step));
}

/**
 * At most `maxPoints` points: consecutive runs of equal length (the last may be shorter) replaced by
 * their mean x and mean y. Training logs hold thousands of steps; a few hundred points draw the same
 * curve, keep the SVG small, and average out the per-step noise of a small batch.
 */
export function binMeans(points: readonly Point[], maxPoints: number): Point[] {
  if (maxPoints < 1) throw new Error(`binMeans needs at least one point, got ${maxPoints}`);
  if (points.length <= maxPoints) return points.map((p) => ({ x: p.x, y: p.y }));
  const binSize = Math.ceil(points.length / maxPoints);
  const out: Point[] = [];
  for (let start = 0; start < points.length; start += binSize) {
    const bin = points.slice(start, start + binSize);
    out.push({ x: mean(bin.map((p) => p.x)), y: mean(bin.map((p) => p.y)) });
  }
  return out;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Metrics are fractions in [0, 1]: three decimals separate the variants of an experiment. */
export const METRIC_DECIMALS = 3;
/** Shown for a metric that is undefined (null in the files: no defect pixels, or no cell yet). */
export const MISSING = '—';

export function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A metric with three decimals, or MISSING when it is null or not finite. */
export function formatMetric(value: number | null | undefined, decimals = METRIC_DECIMALS): string {
  return isNumber(value) ? value.toFixed(decimals) : MISSING;
}

/** "mean ± std"; the mean alone when the std is undefined (a single seed). */
export function formatMeanStd(
  mean: number | null | undefined,
  std: number | null | undefined,
  decimals = METRIC_DECIMALS,
): string {
  if (!isNumber(mean)) return MISSING;
  return isNumber(std) ? `${mean.toFixed(decimals)} ± ${std.toFixed(decimals)}` : mean.toFixed(decimals);
}
