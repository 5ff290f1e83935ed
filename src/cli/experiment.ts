// `gpuseg experiment`: the ablation grid on one category. Locally: a line per cell and a progress bar per
// training run, then the Markdown table. With --queue: the cells go to workers through Redis and a bar
// follows the whole grid. With --cell N: only that cell (one pod of an Indexed Job). With --collect: the
// results of the cells done so far.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type GridEvent, runGridOnQueue } from '../experiment/queue.js';
import { parseRedisUrl } from '../experiment/redis.js';
import type { CellResult } from '../experiment/results.js';
import type { ExperimentOptions } from '../experiment/grid.js';
import { collectExperiment, runExperiment, runOneCell } from '../experiment/runner.js';
import { InputError } from './errors.js';
import { progress } from './progress.js';
import { trainProgress } from './train.js';

export interface ExperimentCliOptions extends ExperimentOptions {
  json?: boolean;
  /** redis://HOST:PORT/DB: enqueue the cells for `gpuseg worker`s instead of running them here. */
  queue?: string;
  /** Run only this cell of the grid (0-based). */
  cell?: number;
  /** Write the results of the cells done so far; run nothing. */
  collect?: boolean;
}

const cellLabel = (c: Pick<CellResult, 'variant' | 'shots' | 'splitSeed'>) => `${c.variant}, ${c.shots}-shot, split seed ${c.splitSeed}`;
const cellRun = (c: Pick<CellResult, 'run'>) => c.run.split('/').pop()!;

export async function runExperimentCli(o: ExperimentCliOptions): Promise<void> {
  const { json, queue, cell, collect, ...options } = o;
  const modes = [queue !== undefined && '--queue', cell !== undefined && '--cell', collect && '--collect'].filter(Boolean);
  if (modes.length > 1) throw new InputError(`${modes.join(' and ')} do not go together`);
  if (queue !== undefined) return queued(options, queue, json);
  if (cell !== undefined) return oneCell(options, cell, json);
  if (collect) return collected(options, json);
  return local(options, json);
}

async function local(options: ExperimentOptions, json: boolean | undefined): Promise<void> {
  let current: ReturnType<typeof trainProgress> | null = null;
  try {
    const result = await runExperiment(options, (e) => {
      if (e.kind === 'cell') {
        current?.stop();
        current = null;
        if (!json) process.stderr.write(`cell ${e.index + 1}/${e.cells}: ${cellLabel(e)}${e.skipped ? ' (finished before: kept)' : ''}\n`);
        if (!e.skipped) current = trainProgress(json, `cell ${e.index + 1}/${e.cells}`);
      } else if (e.kind === 'train') {
        current?.onEvent(e.event);
      } else if (e.kind === 'cell-done') {
        current?.stop();
        current = null;
        if (!json && e.cell.overall) process.stderr.write(`  defect IoU ${e.cell.overall.iou.toFixed(3)} in ${e.cell.seconds?.toFixed(0)} s\n`);
      }
    });
    await printResults(result.dir, json, `${result.trained} cell(s) trained, ${result.skipped} kept from before`);
  } finally {
    (current as ReturnType<typeof trainProgress> | null)?.stop();
  }
}

async function printResults(dir: string, json: boolean | undefined, summary: string): Promise<void> {
  if (json) {
    process.stdout.write(await readFile(join(dir, 'results.json'), 'utf8'));
    return;
  }
  process.stdout.write(await readFile(join(dir, 'results.md'), 'utf8'));
  process.stdout.write(`\n${summary}; ${join(dir, 'results.md')}, ${join(dir, 'report.html')}\n`);
}

/**
 * The bar over the whole grid (not with --json), and a line for each event a user should see even then,
 * as train's warnings are: what was enqueued, failures, Redis trouble.
 */
function gridProgress(json: boolean | undefined): { onEvent: (e: GridEvent) => void; stop: () => void } {
  let bar: ReturnType<typeof progress> | null = null;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const onEvent = (e: GridEvent) => {
    if (e.kind === 'queued') {
      say(`grid of ${e.cells} cell(s): ${e.enqueued} enqueued, ${e.finished} finished before (kept); waiting for workers (gpuseg worker --queue ...)`);
      bar = progress('grid', e.cells, { quiet: json, fields: ['state'] });
    } else if (e.kind === 'progress') {
      const training = e.running && e.steps ? ` (${e.stepsDone}/${e.running * e.steps} steps)` : '';
      bar?.update(e.done + e.failed, { state: `${e.running} training${training}, ${e.failed} failed` });
    } else if (e.kind === 'cell-failed') {
      say(`cell ${cellRun(e.cell)} failed for good: ${e.cell.error}`);
    } else if (e.kind === 'requeued') {
      say(`Redis had lost ${e.names.length} unfinished cell(s) (restarted without persistence?): enqueued again: ${e.names.join(', ')}`);
    } else if (e.kind === 'redis-down') {
      say(`lost Redis (${e.message}); waiting for it to come back`);
    } else if (e.kind === 'redis-back') {
      say('Redis is back');
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}

async function queued(options: ExperimentOptions, url: string, json: boolean | undefined): Promise<void> {
  const target = parseRedisUrl(url);
  const p = gridProgress(json);
  try {
    const result = await runGridOnQueue(options, target, p.onEvent);
    p.stop();
    const trained = result.cells.filter((c) => c.overall !== null).length - result.skipped;
    await printResults(result.dir, json, `${trained} cell(s) trained by workers, ${result.skipped} kept from before, ${result.failed.length} failed`);
    if (result.failed.length) {
      const names = result.failed.map((c) => `${cellRun(c)} (${c.error})`).join('; ');
      throw new Error(`${result.failed.length} cell(s) failed after every attempt, the results of the others are written: ${names}`);
    }
  } finally {
    p.stop();
  }
}

async function oneCell(options: ExperimentOptions, index: number, json: boolean | undefined): Promise<void> {
  const p = trainProgress(json, `cell ${index}`);
  try {
    const cell = await runOneCell(options, index, p.onEvent, (from) => {
      if (!json) process.stderr.write(`cell ${index}: ${from === null ? 'starting' : `continuing from the checkpoint of step ${from}`}\n`);
    });
    p.stop();
    if (json) {
      process.stdout.write(`${JSON.stringify(cell, null, 2)}\n`);
      return;
    }
    const iou = cell.overall ? `defect IoU ${cell.overall.iou.toFixed(3)}` : 'no metrics';
    process.stdout.write(`cell ${index} (${cellLabel(cell)}): ${iou}; ${join(options.out, cell.run)} (gpuseg experiment ... --collect writes the results)\n`);
  } finally {
    p.stop();
  }
}

async function collected(options: ExperimentOptions, json: boolean | undefined): Promise<void> {
  const cells = await collectExperiment(options);
  const missing = cells.filter((c) => c.overall === null);
  await printResults(options.out, json, `${cells.length - missing.length} of ${cells.length} cell(s) finished`);
  if (missing.length) {
    const shown = missing.slice(0, 10).map((c) => `${cells.indexOf(c)} ${cellRun(c)}`).join(', ');
    throw new Error(`${missing.length} cell(s) not finished (written as such): ${shown}${missing.length > 10 ? ', ...' : ''}`);
  }
}
