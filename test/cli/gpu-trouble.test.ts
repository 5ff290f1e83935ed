// GPU trouble: an out-of-memory error or a lost device (simulated at one queue submit through
// GPUSEG_FAULT, as neither can be provoked on demand on the CPU driver) stops training with one line
// that names the batch and size (and, for memory, a smaller batch to try), exit 1; the last checkpoint
// stays, the folder loads in predict, and --resume finishes the run. In predict and eval the same
// trouble is one line naming the model's size, or in tiles the tile size and tiles per pass (a smaller
// --tile-batch first), and what to try instead.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const TRAIN = ['--size', '32', '--batch', '4', '--steps', '8', '--checkpoint-every', '2', '--no-eval', '--json'];

/** stderr but the notice of a run without pretrained weights (once per training, not an error). */
const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => !l.startsWith('note: '));

const tiny = useTinyCategory('gpuseg-gpu-trouble-');
let dir: string;
let category: string;
beforeAll(() => {
  ({ dir, category } = tiny);
});

describe('out of GPU memory while training', () => {
  it('is one line naming --batch and --size with a smaller batch to try; the checkpoint before it is kept', () => {
    const run = join(dir, 'run');
    // Submit 450 falls in the checkpoint of step 4 (each checkpoint reads the tensors back one by one).
    const r = gpuseg(['train', '--data', category, '--out', run, ...TRAIN], {
      GPUSEG_FAULT: 'gpu-oom-at-submit:450',
    });
    expect(r.status, r.stderr).toBe(1);
    const lines = errorLines(r.stderr);
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

describe('a lost GPU device', () => {
  it('stops training with one line naming --batch and --size; the checkpoint before it is kept and resumes', () => {
    const run = join(dir, 'lost');
    const r = gpuseg(['train', '--data', category, '--out', run, ...TRAIN], { GPUSEG_FAULT: 'gpu-lost-at-submit:450' });
    expect(r.status, r.stderr).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^gpuseg: the GPU device was lost \(simulated by GPUSEG_FAULT at submit 450\) while training at --batch 4, --size 32; the checkpoint of step 2 in .*lost is kept \(--resume .*lost continues from it\)$/,
    );
    const resumed = gpuseg(['train', '--resume', run, '--json']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).steps).toBe(8);
  });
});

describe('GPU trouble in predict and eval', () => {
  it('is one line naming the model size and the images per pass, exit 1', () => {
    const run = join(dir, 'lost'); // trained to the end by the test above
    const images = join(category, 'test', 'good');
    const cases: [string[], string, RegExp][] = [
      [['predict', '--model', run, '--out', join(dir, 'p1'), images], 'gpu-oom-at-submit:2',
        /^gpuseg: out of GPU memory predicting at the model's size 32x32, 1 image at a time, with \d+ MiB of buffers in use \("simulated by GPUSEG_FAULT at submit 2"\); try another --adapter or --device cpu$/],
      [['predict', '--model', run, '--out', join(dir, 'p2'), images], 'gpu-lost-at-submit:1',
        /^gpuseg: the GPU device was lost \(simulated by GPUSEG_FAULT at submit 1\) while predicting at the model's size 32x32, 1 image at a time; what was written before it is complete$/],
      [['eval', '--model', run], 'gpu-oom-at-submit:1', /^gpuseg: out of GPU memory evaluating at the model's size 32x32, 4 images at a time, with \d+ MiB/],
      [['eval', '--model', run], 'gpu-lost-at-submit:2', /^gpuseg: the GPU device was lost \(simulated by GPUSEG_FAULT at submit 2\) while evaluating at the model's size 32x32, 4 images at a time/],
    ];
    for (const [args, fault, message] of cases) {
      const r = gpuseg([...args, '--json'], { GPUSEG_FAULT: fault });
      expect(r.status, `${fault} ${args[0]}: ${r.stderr}`).toBe(1);
      const lines = r.stderr.trim().split('\n').filter((l) => !/^(predict|eval) \d+\/\d+ *$/.test(l));
      expect(lines, fault).toHaveLength(1);
      expect(lines[0], fault).toMatch(message);
    }
    // predict wrote the first image's files before the second image's forward pass failed.
    expect(existsSync(join(dir, 'p1', '000_prob.png'))).toBe(true);
  });

  it('in tiles: one line naming the tile size and the tiles per pass, with a smaller --tile-batch to try first', () => {
    const run = join(dir, 'lost');
    const images = join(category, 'test', 'good');
    const tiles = ['--tile', '32', '--tile-batch', '2'];
    const cases: [string[], string, RegExp][] = [
      [['predict', '--model', run, '--out', join(dir, 'p3'), images, ...tiles], 'gpu-oom-at-submit:2',
        /^gpuseg: out of GPU memory predicting in 32x32 tiles, 2 tiles at a time, with \d+ MiB of buffers in use \("simulated by GPUSEG_FAULT at submit 2"\); try --tile-batch 1, then another --adapter or --device cpu$/],
      [['eval', '--model', run, ...tiles, '--scale', '0.5', '--tile-batch', '1'], 'gpu-oom-at-submit:1',
        /^gpuseg: out of GPU memory evaluating in 32x32 tiles \(images at their size times 0.5\), 1 tile at a time, with \d+ MiB .*; try a smaller --tile, or another --adapter or --device cpu$/],
      [['eval', '--model', run, ...tiles], 'gpu-lost-at-submit:2',
        /^gpuseg: the GPU device was lost \(simulated by GPUSEG_FAULT at submit 2\) while evaluating in 32x32 tiles, 2 tiles at a time; what was written before it is complete$/],
    ];
    for (const [args, fault, message] of cases) {
      const r = gpuseg([...args, '--json'], { GPUSEG_FAULT: fault });
      expect(r.status, `${fault} ${args[0]}: ${r.stderr}`).toBe(1);
      const lines = r.stderr.trim().split('\n').filter((l) => !/^(predict|eval) \d+\/\d+ *$/.test(l));
      expect(lines, fault).toHaveLength(1);
      expect(lines[0], fault).toMatch(message);
    }
  });
});
