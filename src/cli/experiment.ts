// `gpuseg experiment`: the ablation grid on one category, with a line per cell and a progress bar per
// training run; prints the Markdown table at the end.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ExperimentOptions, runExperiment } from '../experiment/runner.js';
import { trainProgress } from './train.js';

export interface ExperimentCliOptions extends ExperimentOptions {
  json?: boolean;
}

export async function runExperimentCli(o: ExperimentCliOptions): Promise<void> {
  const { json, ...options } = o;
  let current: ReturnType<typeof trainProgress> | null = null;
  try {
    const result = await runExperiment(options, (e) => {
      if (e.kind === 'cell') {
        current?.stop();
        current = null;
        if (!json) {
          const what = `${e.variant}, ${e.shots}-shot, split seed ${e.splitSeed}`;
          process.stderr.write(`cell ${e.index + 1}/${e.cells}: ${what}${e.skipped ? ' (finished before: kept)' : ''}\n`);
        }
        if (!e.skipped) current = trainProgress(json, `cell ${e.index + 1}/${e.cells}`);
      } else if (e.kind === 'train') {
        current?.onEvent(e.event);
      } else if (e.kind === 'cell-done') {
        current?.stop();
        current = null;
        if (!json && e.cell.overall) process.stderr.write(`  defect IoU ${e.cell.overall.iou.toFixed(3)} in ${e.cell.seconds?.toFixed(0)} s\n`);
      }
    });
    if (json) {
      process.stdout.write(`${await readFile(join(result.dir, 'results.json'), 'utf8')}`);
      return;
    }
    process.stdout.write(await readFile(join(result.dir, 'results.md'), 'utf8'));
    process.stdout.write(`\n${result.trained} cell(s) trained, ${result.skipped} kept from before; ${join(result.dir, 'results.md')}, ${join(result.dir, 'report.html')}\n`);
  } finally {
    (current as ReturnType<typeof trainProgress> | null)?.stop();
  }
}
