// The run's decision threshold end to end: a tiny run (32x32, 2 steps) writes threshold.json from its
// held-out normal images; the threshold meets --max-fpr on them (recomputed here from the saved weights);
// eval reports the metrics at 0.5 and at it (or at --threshold); predict's masks use it (or --threshold);
// the web bundle and the ONNX file carry it; bad values stop with one line naming the flag.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSplit } from '../../src/data/index.js';
import { decodeOnnxModel } from '../../src/export/onnx-proto.js';
import { loadModel, predict } from '../../src/evaluate/model-io.js';
import { settleRunThreshold, thresholdAtFpr } from '../../src/evaluate/threshold.js';
import { gpuseg } from './gpuseg.js';

const MAX_FPR = 0.05;

async function grey(file: string): Promise<Uint8Array> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return Uint8Array.from({ length: info.width * info.height }, (_, i) => data[i * info.channels]!);
}

/** Every written mask is 255 exactly where its written probability map passes the threshold. */
async function expectMasksAt(written: { probability: string; mask: string }[], threshold: number): Promise<void> {
  for (const w of written) {
    const p = await grey(w.probability);
    const m = await grey(w.mask);
    expect(Array.from(m), w.mask).toEqual(Array.from(p, (v) => (v > threshold * 255 ? 255 : 0)));
  }
}

describe('the decision threshold: train, eval, predict, export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-threshold-'));
  const category = join(dir, 'data', 'fabric');
  const run = join(dir, 'run');
  let record: { threshold: number; fpr: number; pixels: number; images: number; normalLargestRegion: number; minArea: number };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    // 15 normal training images: 2 held out (10%, rounded), so the threshold pools two images' pixels.
    let r = gpuseg(['synth', join(dir, 'data'), '--size', '32', '--categories', 'fabric', '--train-good', '15', '--test-good', '2', '--per-type', '2']);
    expect(r.status, r.stderr).toBe(0);
    r = gpuseg(['train', '--data', category, '--out', run, '--size', '32', '--batch', '2', '--steps', '2', '--no-nbr', '--no-crop-paste', '--validate-every', '0', '--max-fpr', String(MAX_FPR), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).threshold).toEqual(JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8')));
  });

  it('writes threshold.json, whose threshold keeps the held-out normal pixels above it at most --max-fpr, and no lower one does', async () => {
    record = JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8'));
    const { split } = await readSplit(join(run, 'split.json'));
    expect(split.validationNormals.length).toBe(2);
    expect(record).toEqual({ format: 'gpuseg-threshold/1', threshold: record.threshold, maxFpr: MAX_FPR, fpr: record.fpr, images: 2, pixels: 2 * 32 * 32, step: 2, normalLargestRegion: record.normalLargestRegion, minArea: record.normalLargestRegion + 1 });
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).maxFpr).toBe(MAX_FPR);
    const loaded = await loadModel(run);
    let probabilities: Float32Array[];
    try {
      probabilities = await predict(loaded, split.validationNormals);
    } finally {
      loaded.close();
    }
    const all = probabilities.flatMap((p) => [...p]);
    const share = (keep: (p: number) => boolean) => all.filter(keep).length / all.length;
    expect(share((p) => p > record.threshold)).toBe(record.fpr);
    expect(record.fpr).toBeLessThanOrEqual(MAX_FPR);
    // The threshold is a score: lowering it at all lets that score's pixels through, which is too many.
    expect(share((p) => p >= record.threshold)).toBeGreaterThan(MAX_FPR);
    expect(thresholdAtFpr(probabilities, MAX_FPR)).toEqual({ threshold: record.threshold, fpr: record.fpr, pixels: record.pixels });
  });

  it("minArea is one more than the largest region predict finds on the held-out normal images, so predict calls each OK; --min-area and --threshold set it aside", async () => {
    const { split } = await readSplit(join(run, 'split.json'));
    const out = join(dir, 'pred-normals');
    let r = gpuseg(['predict', ...split.validationNormals, '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    let res = JSON.parse(r.stdout);
    // at --max-fpr 0.05 about 51 of each image's 1024 pixels are above the threshold: regions exist
    expect(record.normalLargestRegion).toBeGreaterThan(0);
    expect(Math.max(...res.images.map((w: { score: number }) => w.score))).toBe(record.normalLargestRegion);
    expect(res).toMatchObject({ minArea: record.minArea, minAreaSource: 'threshold.json' });
    expect(res.images.map((w: { verdict: string }) => w.verdict)).toEqual(['OK', 'OK']);
    r = gpuseg(['predict', ...split.validationNormals, '--model', run, '--out', join(dir, 'pred-normals-1'), '--min-area', String(record.normalLargestRegion), '--json']);
    res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ minArea: record.normalLargestRegion, minAreaSource: '--min-area' });
    expect(res.images.map((w: { verdict: string }) => w.verdict)).toContain('NG');
    r = gpuseg(['predict', split.validationNormals[0]!, '--model', run, '--out', join(dir, 'pred-normals-t'), '--threshold', String(record.threshold), '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ minArea: 1, minAreaSource: 'default 1' });
  });

  it("the final evaluation holds the metrics at 0.5 and at the run's threshold; eval --threshold overrides it", () => {
    const trained = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8'));
    expect(trained.threshold).toBe(0.5);
    expect(trained.runThreshold).toMatchObject({ value: record.threshold, source: 'threshold.json' });
    expect(Object.keys(trained.runThreshold.perType)).toEqual(Object.keys(trained.perType));
    for (const m of [trained.runThreshold.overall, ...Object.values(trained.runThreshold.perType)] as Record<string, number>[]) {
      expect(Object.keys(m).sort()).toEqual(['backgroundIou', 'dice', 'f1', 'iou', 'miou']);
      expect(m.f1).toBe(m.dice);
    }
    const r = gpuseg(['eval', '--model', run, '--threshold', '0.7', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.runThreshold).toMatchObject({ value: 0.7, source: '--threshold' });
    // The 0.5 block is the one it always was: the same weights, the same numbers.
    expect(res.threshold).toBe(0.5);
    expect(res.overall).toEqual(trained.overall);
    expect(JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')).runThreshold.value).toBe(0.7);
  });

  it("predict's masks are the probability maps above the run's threshold, or above --threshold", async () => {
    const out = join(dir, 'pred');
    let r = gpuseg(['predict', join(category, 'test', 'good'), join(category, 'test', 'hole'), '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    let res = JSON.parse(r.stdout);
    expect(res.threshold).toEqual({ value: record.threshold, source: 'threshold.json' });
    await expectMasksAt(res.images, record.threshold);
    // A threshold half a grey level beside a pixel's value: that pixel's mask differs from the one at 0.5.
    const greys = await grey(res.images[0].probability);
    const at = greys.findIndex((v) => v > 0 && v < 255);
    const g = greys[at]!;
    const t = g <= 127 ? (g - 0.5) / 255 : (g + 0.5) / 255;
    r = gpuseg(['predict', res.images[0].image, '--model', run, '--out', join(dir, 'pred-override'), '--threshold', String(t), '--json']);
    expect(r.status, r.stderr).toBe(0);
    res = JSON.parse(r.stdout);
    expect(res.threshold).toEqual({ value: t, source: '--threshold' });
    await expectMasksAt(res.images, t);
    expect((await grey(res.images[0].mask))[at]).toBe(g <= 127 ? 255 : 0);
    // Without threshold.json (a run from before thresholds), 0.5, and the output says so.
    const old = join(dir, 'old-run');
    cpSync(run, old, { recursive: true });
    rmSync(join(old, 'threshold.json'));
    r = gpuseg(['predict', res.images[0].image, '--model', old, '--out', join(dir, 'pred-old')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/masks \(probability > 0\.5, default 0\.5\)/);
  });

  it('the web bundle starts its slider at the threshold; the ONNX file carries it as metadata', () => {
    const web = join(dir, 'web');
    const onnx = join(dir, 'unet.onnx');
    const r = gpuseg(['export', run, '--web', web, '--onnx', onnx, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.web.threshold).toEqual({ value: record.threshold, source: 'threshold.json' });
    expect(summary.onnx.threshold).toEqual({ value: record.threshold, source: 'threshold.json' });
    expect(JSON.parse(readFileSync(join(web, 'model.json'), 'utf8')).threshold).toBe(record.threshold);
    const meta = Object.fromEntries(decodeOnnxModel(readFileSync(onnx)).metadata_props.map((e) => [e.key, e.value]));
    expect(Number(meta['gpuseg.threshold'])).toBe(record.threshold);
    expect(meta['gpuseg.threshold_source']).toBe('threshold.json');
  });

  it('refuses a bad --max-fpr or --threshold with one line naming the flag (exit 2)', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--data', category, '--out', join(dir, 'never'), '--size', '32', '--max-fpr', '1.5'], /^gpuseg: --max-fpr must be a rate from 0 up to \(not including\) 1, got '1\.5'$/],
      [['eval', '--model', run, '--threshold', '-1'], /^gpuseg: --threshold must be a probability from 0 up to \(not including\) 1, got '-1'$/],
      [['predict', category, '--model', run, '--out', join(dir, 'never'), '--threshold', '1'], /^gpuseg: --threshold must be a probability .* got '1'$/],
    ];
    for (const [args, message] of cases) {
      const r = gpuseg(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('with no held-out normal images: no threshold.json (an old one goes) and a warning', async () => {
    const folder = join(dir, 'no-normals');
    cpSync(run, folder, { recursive: true });
    const events: unknown[] = [];
    // No images to score: the model is never called.
    const settled = await settleRunThreshold({ dir: folder, model: null as never, backend: null as never, normals: [], size: 32, maxFpr: MAX_FPR, step: 2 }, (e) => events.push(e));
    expect(settled).toBeNull();
    expect(readdirSync(folder)).not.toContain('threshold.json');
    expect(events).toEqual([{ kind: 'warning', message: expect.stringMatching(/no held-out normal images .* use threshold 0\.5$/) }]);
  });
});

describe('threshold.json in a run folder', () => {
  it('clearRun removes threshold.json with the rest of a run (so --overwrite leaves no stale threshold)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuseg-threshold-clear-'));
    try {
      writeFileSync(join(dir, 'threshold.json'), '{}');
      writeFileSync(join(dir, 'notes.txt'), 'mine');
      const { checkRunFolder, clearRun } = await import('../../src/run/run-folder.js');
      await expect(checkRunFolder(dir, false)).rejects.toThrow(/holds a run \(threshold\.json\)/);
      await clearRun(dir);
      expect(readdirSync(dir)).toEqual(['notes.txt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
