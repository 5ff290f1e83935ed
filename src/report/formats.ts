// The run and experiment files the reports read, as they arrive from JSON: every metric may be null
// (undefined, e.g. no defect pixels), a run may have no eval.json yet, and a killed run may leave a
// partial last line in log.jsonl. These types describe the files, not the trainer's in-memory objects.
import { readFile } from 'node:fs/promises';
import type { MetricKey } from '../evaluate/metrics.js';
import type { runConfig } from '../run/run-config.js';
import { isNumber } from './numbers.js';
import { InputError } from '../util/errors.js';

export interface ReportMetrics {
  iou: number | null;
  backgroundIou?: number | null;
  miou: number | null;
  dice: number | null;
  auroc: number | null;
  ap: number | null;
  f1Max: number | null;
  f1MaxThreshold?: number | null;
  aupro: number | null;
  pixels?: number | null;
  defectPixels?: number | null;
  regions?: number | null;
  images?: number | null;
}

/** A run's config.json as the report reads it: what runConfig writes, any field possibly absent. */
export type RunConfig = Partial<ReturnType<typeof runConfig>> & {
  /** The step the run reached. */
  step?: number;
  [key: string]: unknown;
};

export interface EvalImage {
  image: string;
  mask: string | null;
  type: string;
  iou: number | null;
  defectPixels: number;
  predictedPixels: number;
  probability: string | null;
}

/** How the evaluation ran (eval.json `inference`; absent in older files, which all resized). */
export type EvalInference =
  | { mode: 'resize'; size?: number; resize?: 'stretch' | 'pad' }
  | { mode: 'tiles'; tile?: number; overlap?: number; scale?: number; batch?: number };

export interface EvalFile {
  format: string;
  size: number;
  inference?: EvalInference;
  threshold: number;
  proFprLimit: number;
  pooling: string;
  overall: ReportMetrics;
  perType: Record<string, ReportMetrics>;
  images: EvalImage[];
}

/** A step line of log.jsonl; a null term is off (for pasteWeight: no pasted sample in that step). */
export interface StepLine {
  step: number;
  loss: number | null;
  seg: number | null;
  bg: number | null;
  feat: number | null;
  pasteWeight: number | null;
}

export interface RunLog {
  steps: StepLine[];
  validation: { step: number; falsePositiveRate: number }[];
  /** Lines that did not parse or were neither a step nor a validation line. */
  skipped: number;
}

export type { MetricKey };

export interface ExperimentCell {
  variant: string;
  shots: number;
  splitSeed: number;
  /** The cell's run folder, relative to the experiment folder. */
  run: string;
  /** null: the cell has not finished. */
  overall: ReportMetrics | null;
  perType: Record<string, ReportMetrics> | null;
  seconds: number | null;
}

/** A row of results.json's summary, per variant and shot count (experiment/results.ts writes it). */
export interface SummaryRow {
  variant: string;
  shots: number;
  /** Finished split seeds. */
  seeds: number;
  mean: Record<MetricKey, number | null>;
  /** Sample standard deviation over the seeds (n - 1); null with fewer than two. */
  std: Record<MetricKey, number | null>;
}

export interface ExperimentResults {
  format: string;
  data: string;
  size: number;
  steps: number;
  variants: string[];
  shots: number[];
  splitSeeds: number[];
  cells: ExperimentCell[];
  summary: SummaryRow[];
}

/** Reads and parses a JSON file; a failure is one line naming the file. */
export async function readJson<T>(path: string, what: string): Promise<T> {
  const parsed = await readOptionalJson<T>(path, what);
  if (parsed === null) throw new InputError(`cannot read ${what} '${path}': file not found`);
  return parsed;
}

/** The parsed JSON file, or null when it does not exist (a run not yet evaluated). */
export async function readOptionalJson<T>(path: string, what: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(`cannot read ${what} '${path}': ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new InputError(`cannot read ${what} '${path}': ${(err as Error).message}`);
  }
}

function numberOrNull(value: unknown): number | null {
  return isNumber(value) ? value : null;
}

/** Parses log.jsonl text: step lines, validation lines, and a count of the lines that are neither. */
export function parseRunLog(text: string): RunLog {
  const log: RunLog = { steps: [], validation: [], skipped: 0 };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.skipped++;
      continue;
    }
    if (entry === null || typeof entry !== 'object' || !isNumber(entry.step)) {
      log.skipped++;
      continue;
    }
    const step = entry.step;
    let used = false;
    if ('loss' in entry) {
      log.steps.push({
        step,
        loss: numberOrNull(entry.loss),
        seg: numberOrNull(entry.seg),
        bg: numberOrNull(entry.bg),
        feat: numberOrNull(entry.feat),
        pasteWeight: numberOrNull(entry.pasteWeight),
      });
      used = true;
    }
    if (isNumber(entry.validationFalsePositiveRate)) {
      log.validation.push({ step, falsePositiveRate: entry.validationFalsePositiveRate });
      used = true;
    }
    if (!used) log.skipped++;
  }
  return log;
}

/** Reads RUN/log.jsonl; a missing file is an empty log (a run killed before its first step). */
export async function readRunLog(path: string): Promise<RunLog> {
  try {
    return parseRunLog(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { steps: [], validation: [], skipped: 0 };
    throw new InputError(`cannot read log '${path}': ${(err as Error).message}`);
  }
}
