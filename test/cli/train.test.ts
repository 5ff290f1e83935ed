// End to end through the CLI: synth -> train (a few steps at 32x32) -> predict -> eval.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
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

  it('synthesizes, trains, checkpoints and logs', () => {
    let r = gpuseg(['synth', data, '--size', '32', '--categories', 'fabric', '--train-good', '4', '--test-good', '2', '--per-type', '2']);
    expect(r.status, r.stderr).toBe(0);
    const category = join(data, 'fabric');
    r = gpuseg(['train', '--data', category, '--out', run, '--size', '32', '--batch', '2', '--steps', '3', '--checkpoint-every', '2', '--validate-every', '2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.steps).toBe(3);
    expect(Number.isFinite(result.finalLoss)).toBe(true);
    for (const f of ['last.safetensors', 'optimizer.safetensors', 'config.json', 'split.json', 'log.jsonl']) expect(existsSync(join(run, f)), f).toBe(true);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((l) => 'loss' in l).map((l) => l.step)).toEqual([1, 2, 3]);
    expect(log.some((l) => 'validationFalsePositiveRate' in l)).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).step).toBe(3);
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

  it('evaluates per defect type as JSON', () => {
    const r = gpuseg(['eval', '--model', run, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.images).toBeGreaterThan(0);
    expect(Object.keys(res.perType).length).toBeGreaterThanOrEqual(3);
    expect(res.overall.pixels).toBe(res.images * 32 * 32);
  });

  it('refuses bad input with a one-line error naming the flag or file', () => {
    let r = gpuseg(['train', '--data', join(dir, 'nope'), '--out', run]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('gpuseg:'))[0]).toMatch(/nope/);
    r = gpuseg(['train', '--data', data, '--out', run, '--size', '48']);
    expect(r.stderr).toMatch(/--size must be a multiple of 32/);
    r = gpuseg(['predict', join(dir, 'missing.png'), '--model', run, '--out', dir]);
    expect(r.stderr).toMatch(/missing\.png: no such image or folder/);
  });
});
