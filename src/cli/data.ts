// `gpuseg synth`: the synthetic data set in the MVTec AD layout.
import { SYNTH_CATEGORIES, synthesize } from '../data/index.js';
import { InputError } from './errors.js';

export interface SynthCliOptions {
  size: number;
  seed: number;
  categories?: string;
  trainGood?: number;
  testGood?: number;
  perType?: number;
  json?: boolean;
}

/** `gpuseg synth --help`'s list of categories: one line each, with its defect types. */
export function synthCategoriesHelp(): string {
  const rows = Object.entries(SYNTH_CATEGORIES).map(([name, c]) => `  ${name.padEnd(14)} ${c.description} (${c.defects.join(', ')})`);
  return `\nCategories:\n${rows.join('\n')}`;
}

export async function runSynth(out: string, o: SynthCliOptions): Promise<void> {
  const categories = o.categories?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of categories ?? []) {
    if (!(c in SYNTH_CATEGORIES)) throw new InputError(`--categories: unknown category '${c}' (known: ${Object.keys(SYNTH_CATEGORIES).join(', ')})`);
  }
  const summary = await synthesize(out, { size: o.size, seed: o.seed, categories, trainGood: o.trainGood, testGood: o.testGood, perType: o.perType });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  for (const c of summary.categories) {
    const defects = Object.entries(c.counts.perType).map(([t, n]) => `${t} ${n}`).join(', ');
    process.stdout.write(`${c.dir}: ${c.counts.trainGood} normal, ${c.counts.testGood} good test, defects: ${defects}\n`);
  }
}
