// End to end through the CLI: synth -> train (a few steps at 32x32) -> predict -> eval.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadModel, predict } from '../../src/index.js';
import { gpuseg } from './gpuseg.js';

describe('gpuseg synth, train, predict, eval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-cli-'));
  const data = join(dir, 'data');
  const run = join(dir, 'run');

  it('synthesizes, trains the full method, checkpoints, logs every loss term, evaluates and reports', () => {
    let r = gpuseg(['synth', data, '--size', '32', '--categories', 'fabric', '--train-good', '5', '--test-good', '2', '--per-type', '2']);
    expect(r.status, r.stderr).toBe(0);
    const category = join(data, 'fabric');
    r = gpuseg(['train', '--data', category, '--out', run, '--size', '32', '--batch', '2', '--normal-per-batch', '2', '--steps', '3', '--checkpoint-every', '2', '--validate-every', '2', '--lambda-feat', '0.2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.steps).toBe(3);
    expect(Number.isFinite(result.finalLoss)).toBe(true);
    expect(result.evaluation.overall.images).toBe(readdirSync(join(category, 'test'), { recursive: true }).filter((f) => String(f).endsWith('.png')).length - 3);
    for (const f of ['last.safetensors', 'optimizer.safetensors', 'config.json', 'split.json', 'log.jsonl', 'eval.json', 'report.html']) expect(existsSync(join(run, f)), f).toBe(true);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = log.filter((l) => 'loss' in l);
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3]);
    // Batch 2 = 1 shot + 1 pasted sample, and 2 normal images on top: every term is present.
    for (const l of steps) {
      for (const term of ['seg', 'bg', 'feat', 'pasteWeight']) expect(Number.isFinite(l[term]), `${term} at step ${l.step}`).toBe(true);
      expect(l.loss).toBeCloseTo(l.seg + 1.0 * l.bg + 0.2 * l.feat, 5);
    }
    // The first 10% of the steps (here the first) keep paste weights at 1.
    expect(steps[0].pasteWeight).toBe(1);
    expect(log.some((l) => 'validationFalsePositiveRate' in l)).toBe(true);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      step: 3, nbr: true, cropPaste: true, weighting: true, lambdaBg: 1, lambdaFeat: 0.2, nbrLayer: 2, paste: 'anywhere', normalPerBatch: 2,
      layout: { shots: 1, pasted: 1, synthetic: 0, normals: 2 },
    });
  });

  it('trains the baseline with the method switched off (no normal images, no terms but the segmentation loss), over an old run with --overwrite', () => {
    const base = join(dir, 'baseline');
    // An older run in the folder: --overwrite replaces its files (and leaves the folder's other files).
    mkdirSync(join(base, 'eval'), { recursive: true });
    writeFileSync(join(base, 'log.jsonl'), '{"step": 1, "loss": 9}\n{"step": 2, "loss": 9}\n{"step": 3, "loss": 9}\n');
    writeFileSync(join(base, 'eval.json'), '{}');
    writeFileSync(join(base, 'notes.txt'), 'mine');
    const r = gpuseg(['train', '--data', join(data, 'fabric'), '--out', base, '--size', '32', '--batch', '2', '--steps', '2', '--no-nbr', '--no-crop-paste', '--no-eval', '--validate-every', '0', '--overwrite', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(base, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(base, 'eval'))).toBe(false);
    const steps = readFileSync(join(base, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(steps.map((l) => l.step)).toEqual([1, 2]);
    for (const l of steps) expect([l.bg, l.feat, l.pasteWeight, l.loss]).toEqual([null, null, null, l.seg]);
    expect(JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'))).toMatchObject({ nbr: false, cropPaste: false, normalPerBatch: 0, layout: { shots: 2, pasted: 0, synthetic: 0, normals: 0 } });
    expect(existsSync(join(base, 'eval.json'))).toBe(false);
  });

  it('starts the background term after --bg-start of the steps: before it the loss is the segmentation term alone', () => {
    const late = join(dir, 'late');
    const r = gpuseg(['train', '--data', join(data, 'fabric'), '--out', late, '--size', '32', '--batch', '2', '--normal-per-batch', '2', '--no-crop-paste', '--lambda-feat', '0', '--steps', '4', '--bg-start', '0.5', '--no-eval', '--validate-every', '0', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const steps = readFileSync(join(late, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l);
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const l of steps) expect(l.bg, `bg at step ${l.step}`).toBeGreaterThan(0.01);
    // round(0.5 * 4) = 2 steps at weight 0, then lambda_bg 1.
    for (const l of steps.slice(0, 2)) expect(l.loss).toBe(l.seg);
    for (const l of steps.slice(2)) expect(l.loss).toBeCloseTo(l.seg + l.bg, 5);
    expect(JSON.parse(readFileSync(join(late, 'config.json'), 'utf8'))).toMatchObject({ bgStart: 0.5, lambdaBg: 1 });
  });

  it('--paste-slots extra keeps a whole batch of shots and puts the pasted samples on top, and records it', () => {
    const extra = join(dir, 'extra');
    const r = gpuseg(['train', '--data', join(data, 'fabric'), '--out', extra, '--size', '32', '--batch', '2', '--no-nbr', '--paste-slots', 'extra', '--steps', '2', '--no-eval', '--validate-every', '0', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(extra, 'config.json'), 'utf8'))).toMatchObject({ pasteSlots: 'extra', layout: { shots: 2, pasted: 1, synthetic: 0, normals: 0 } });
  });

  it('stops a diverging run with a line naming the step and the loss term', () => {
    const r = gpuseg(['train', '--data', join(data, 'fabric'), '--out', join(dir, 'diverged'), '--size', '32', '--batch', '4', '--steps', '4', '--lr', '1e38', '--validate-every', '0']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^gpuseg: training diverged: the (segmentation|background|feature) term is (NaN|-?Infinity) at step \d+ \(lr 1\.00e\+38\); no checkpoint was written before it$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('predicts a probability map, a mask and an overlay per image at the image size', async () => {
    const images = join(data, 'fabric', 'test', 'good');
    const out = join(dir, 'pred');
    const r = gpuseg(['predict', images, '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const written = JSON.parse(r.stdout).images;
    expect(written.length).toBe(readdirSync(images).length);
    const meta = await sharp(written[0].overlay).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([32, 32, 3]);
  });

  it('the JavaScript API loads the saved run and predicts bit-identically from it twice', async () => {
    const image = join(data, 'fabric', 'test', 'good', readdirSync(join(data, 'fabric', 'test', 'good'))[0]!);
    const probs: Float32Array[] = [];
    for (let i = 0; i < 2; i++) {
      const loaded = await loadModel(run);
      try {
        expect(loaded.size).toBe(32);
        probs.push((await predict(loaded, [image]))[0]!);
      } finally {
        loaded.close();
      }
    }
    expect(probs[0]!.length).toBe(32 * 32);
    expect(probs[0]!.every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(Buffer.from(probs[1]!.buffer).equals(Buffer.from(probs[0]!.buffer))).toBe(true);
  });

  it('evaluates per defect type and overall as JSON, and writes eval.json', () => {
    const r = gpuseg(['eval', '--model', run, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.overall.images).toBe(res.images.length);
    expect(Object.keys(res.perType).sort()).toEqual(readdirSync(join(data, 'fabric', 'test')).filter((t) => t !== 'good').sort());
    expect(res.overall.pixels).toBe(res.images.length * 32 * 32);
    for (const key of ['iou', 'miou', 'dice', 'auroc', 'ap', 'f1Max', 'f1MaxThreshold', 'aupro']) expect(typeof res.overall[key], key).toBe('number');
    expect(JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8'))).toEqual(res);
    // Worst first: the defect images by ascending IoU, then the defect-free ones.
    const ious = res.images.filter((i: { iou: number | null }) => i.iou !== null).map((i: { iou: number }) => i.iou);
    expect(ious).toEqual([...ious].sort((a, b) => a - b));
    expect(res.images.slice(ious.length).every((i: { mask: string | null }) => i.mask === null)).toBe(true);
    const table = gpuseg(['eval', '--model', run]);
    expect(table.stdout).toMatch(/AUPRO/);
    expect(table.stdout).toMatch(/pooled over the whole evaluation set/);
  });

  it('evaluates the same split on a moved copy of the category folder (--data)', () => {
    const moved = join(dir, 'moved');
    cpSync(join(data, 'fabric'), moved, { recursive: true });
    const before = JSON.parse(gpuseg(['eval', '--model', run, '--json']).stdout);
    rmSync(join(data, 'fabric', 'test'), { recursive: true });
    let r = gpuseg(['eval', '--model', run, '--json']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/cannot read (image|mask) '.*fabric/);
    r = gpuseg(['eval', '--model', run, '--data', moved, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const after = JSON.parse(r.stdout);
    expect(after.overall).toEqual(before.overall);
    cpSync(join(moved, 'test'), join(data, 'fabric', 'test'), { recursive: true });
  });

  it('refuses bad input with a one-line error naming the flag or file', () => {
    let r = gpuseg(['train', '--data', join(dir, 'nope'), '--out', join(dir, 'never')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('gpuseg:'))[0]).toMatch(/nope/);
    r = gpuseg(['train', '--data', data, '--out', run, '--size', '48']);
    expect(r.stderr).toMatch(/--size must be a multiple of 32/);
    r = gpuseg(['predict', join(dir, 'missing.png'), '--model', run, '--out', dir]);
    expect(r.stderr).toMatch(/missing\.png: no such image or folder/);
    const category = join(data, 'fabric');
    const bad: [string[], RegExp][] = [
      [['--lambda-bg', '-1'], /--lambda-bg must be a non-negative number, got '-1'/],
      [['--lambda-feat', 'x'], /--lambda-feat must be a non-negative number, got 'x'/],
      [['--nbr-layer', '4'], /--nbr-layer must be 2 or 3, got '4'/],
      [['--paste', 'sideways'], /--paste.*sideways/],
      [['--normal-per-batch', '-1'], /--normal-per-batch must be .*, got '-1'/],
      [['--nbr-features', 'post'], /--nbr-features.*post/],
      [['--cell-labels', 'some'], /--cell-labels.*some/],
      [['--bg-loss', 'max'], /--bg-loss.*max/],
      [['--normal-bn', 'none'], /--normal-bn.*none/],
      [['--paste-slots', 'half'], /--paste-slots.*half/],
      [['--feat-rampup', '1.5'], /--feat-rampup must be a share of the steps from 0 up to \(not including\) 1, got '1.5'/],
      [['--bg-start', '1'], /--bg-start must be a share of the steps from 0 up to \(not including\) 1, got '1'/],
      [['--bg-top', '2'], /--bg-top must be a share of the pixels above 0 and at most 1, got 2/],
      [['--synthetic', 'x'], /--synthetic must be .*, got 'x'/],
      [['--synthetic-phase', '1'], /--synthetic-phase must be a share of the steps from 0 up to \(not including\) 1, got '1'/],
      [['--no-nbr', '--normal-per-batch', '1'], /--normal-per-batch 1 with --no-nbr/],
    ];
    for (const [flags, message] of bad) {
      r = gpuseg(['train', '--data', category, '--out', join(dir, 'never'), '--size', '32', ...flags]);
      expect(r.status, flags.join(' ')).not.toBe(0);
      expect(r.stderr, flags.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
    // A folder that holds a run is refused, and left as it was.
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8');
    r = gpuseg(['train', '--data', category, '--out', run, '--size', '32', '--steps', '1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--out '.*run' holds a run \(config\.json\); pass --overwrite to replace it/);
    expect(readFileSync(join(run, 'log.jsonl'), 'utf8')).toBe(log);
  });
});
