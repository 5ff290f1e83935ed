// GPU trouble during training: an out-of-memory error (simulated at one queue submit through
// GPUSEG_FAULT, as a real one cannot be provoked on demand on the CPU driver) stops the run with one
// line that names the batch and size and suggests a smaller batch, exit 1; the last checkpoint stays,
// the folder loads in predict, and --resume finishes the run.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../src/data/synth.js';
import { gpuseg } from './gpuseg.js';

let dir: string;
let category: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpuseg-gpu-trouble-'));
  const summary = await synthesize(join(dir, 'data'), { size: 32, categories: ['fabric'], trainGood: 6, testGood: 2, perType: 3 });
  category = summary.categories[0]!.dir;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('out of GPU memory while training', () => {
  it('is one line naming --batch and --size with a smaller batch to try; the checkpoint before it is kept', () => {
    const run = join(dir, 'run');
    // Submit 450 falls in the checkpoint of step 4 (each checkpoint reads the tensors back one by one).
    const r = gpuseg(['train', '--data', category, '--out', run, '--size', '32', '--batch', '4', '--steps', '8', '--checkpoint-every', '2', '--no-eval', '--json'], {
      GPUSEG_FAULT: 'gpu-oom-at-submit:450',
    });
    expect(r.status, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^gpuseg: out of GPU memory training at --batch 4, --size 32: a step asked for more than the \d+ MiB its buffers held \("simulated by GPUSEG_FAULT at submit 450"\); try --batch 2; the checkpoint of step 2 in .*run is kept$/,
    );
    expect(existsSync(join(run, 'checkpoints', 'step-000002'))).toBe(true);
    const predicted = gpuseg(['predict', '--model', run, '--out', join(dir, 'pred'), join(category, 'test', 'good'), '--json']);
    expect(predicted.status, predicted.stderr).toBe(0);
    const resumed = gpuseg(['train', '--resume', run, '--json']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).steps).toBe(8);
    expect(existsSync(join(run, 'checkpoints', 'step-000004.tmp'))).toBe(false); // the half-written one is gone
  });
});
