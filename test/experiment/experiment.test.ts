// The smoke experiment CI runs: every variant at 1 and 5 shots on a tiny synthetic category (32x32,
// one split seed, a few steps a cell), through the CLI as a user runs it. It must write the table and a
// report that renders in a real browser, resume without rerunning finished cells, and restart a cell that
// was cut short from scratch.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VARIANT_NAMES } from '../../src/experiment/variants.js';
import { gpuseg } from '../cli/gpuseg.js';
import { reportProblems } from '../report/browser.js';

const CELLS = 2 * VARIANT_NAMES.length;
/** Ten cells of ~10 s each on lavapipe (model set-up, final checkpoint, evaluation dominate). */
const EXPERIMENT_TIMEOUT_MS = 400_000;

describe('gpuseg experiment (smoke)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-experiment-'));
  // A grid's runs hold checkpoints with Adam's moments: hundreds of megabytes, never left behind.
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data', 'fabric');
  const out = join(dir, 'exp');
  const settings = (steps: number) => ['experiment', '--data', data, '--out', out, '--size', '32', '--steps', String(steps), '--split-seeds', '0', '--validate-every', '0'];
  const args = settings(2);

  it('trains and evaluates all five variants at 1 and 5 shots, and writes results, table and report', () => {
    let r = gpuseg(['synth', join(dir, 'data'), '--size', '32', '--categories', 'fabric', '--train-good', '6', '--test-good', '2', '--per-type', '6']);
    expect(r.status, r.stderr).toBe(0);
    r = gpuseg([...args, '--json'], {}, EXPERIMENT_TIMEOUT_MS);
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout);
    expect(results).toEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(results.cells).toHaveLength(CELLS);
    for (const c of results.cells) {
      expect(Number.isFinite(c.overall?.iou), `${c.variant} ${c.shots}-shot`).toBe(true);
      expect(existsSync(join(out, c.run, 'report.html')), c.run).toBe(true);
      expect(existsSync(join(out, c.run, 'optimizer.safetensors')), 'no optimizer state in a cell').toBe(false);
      const config = JSON.parse(readFileSync(join(out, c.run, 'config.json'), 'utf8'));
      expect(config.shots).toBe(c.shots);
      // The IoU at the run's own threshold is eval.json's, with that threshold.
      const evaluation = JSON.parse(readFileSync(join(out, c.run, 'eval.json'), 'utf8'));
      expect(c.atThreshold, c.run).toEqual({ threshold: evaluation.runThreshold.value, ...evaluation.runThreshold.overall });
      expect(Number.isFinite(c.atThreshold.iou), c.run).toBe(true);
      const { shots, pasted, synthetic, normals } = config.layout;
      expect(c.imagesPerStep, c.run).toBe(shots + pasted + synthetic + normals);
    }
    // Each variant set its switches; the baseline's batches hold no normal image.
    const config = (run: string) => JSON.parse(readFileSync(join(out, run, 'config.json'), 'utf8'));
    expect(config('cells/baseline-1shot-split0')).toMatchObject({ nbr: false, cropPaste: false, normalPerBatch: 0 });
    expect(config('cells/cpw-5shot-split0')).toMatchObject({ nbr: false, cropPaste: true, weighting: true });
    expect(config('cells/full-5shot-split0')).toMatchObject({ nbr: true, cropPaste: true, weighting: true, normalPerBatch: 4 });
    expect(results.summary).toHaveLength(CELLS);
    const table = readFileSync(join(out, 'results.md'), 'utf8').split('\n').filter((l) => l.startsWith('| '));
    expect(table).toHaveLength(1 + CELLS);
    expect(table[0]).toMatch(/\| variant \| shots \| seeds \| IoU \| mIoU \| Dice \| AUROC \| AP \| F1-max \| AUPRO \|/);
  }, EXPERIMENT_TIMEOUT_MS);

  it('the experiment report renders in headless Chromium: plots and images drawn', async () => {
    const { problems, inspection } = await reportProblems(join(out, 'report.html'));
    expect(problems).toEqual([]);
    expect(inspection.elements.filter((e) => e.selector === 'svg.chart rect.plot').length).toBeGreaterThan(4);
    expect(inspection.images.length).toBeGreaterThan(0);
  });

  it('resumes: finished cells are kept, a cell cut short is trained again from scratch', () => {
    const cut = join(out, 'cells', 'nbr-5shot-split0');
    const before = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    // What a kill during the cell leaves: no cell.json, and files of the half-done run.
    rmSync(join(cut, 'cell.json'));
    writeFileSync(join(cut, 'leftover.tmp'), 'half-written');
    const r = gpuseg(args, {}, EXPERIMENT_TIMEOUT_MS);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 cell\(s\) trained, 9 kept from before/);
    expect(existsSync(join(cut, 'leftover.tmp'))).toBe(false);
    const after = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const key = (c: { run: string }) => c.run;
    for (const c of before.cells) {
      const again = after.cells.find((a: { run: string }) => key(a) === key(c));
      // The same seeds on the same adapter: even the retrained cell gives the same metrics.
      expect(again.overall, c.run).toEqual(c.overall);
    }
  }, EXPERIMENT_TIMEOUT_MS);

  it('refuses to resume with other settings, naming the setting', () => {
    const r = gpuseg(settings(3));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/started with steps 2, not 3; use another --out/);
  });
});
