import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/gpu.js';
import { TUNING_FORMAT, loadAdapterTuning } from '../../src/gpu/tuning.js';
import { tuneUnet } from '../../src/tune/index.js';
import { gpuseg } from './gpuseg.js';

describe('gpuseg tune', () => {
  it('measures the first layers, writes the adapter file, and bench train reads it', () => {
    const cache = mkdtempSync(join(tmpdir(), 'gpuseg-tune-'));
    const env = { GPUSEG_CACHE_DIR: cache };
    const r = gpuseg(['tune', '--batch', '1', '--size', '64', '--layers', '2', '--kernels', 'conv2d,conv2dWeightGrad', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const rows = lines.slice(0, -1);
    expect(rows.map((x) => `${x.layer} ${x.kernel}`)).toEqual([
      'stem 7x7/2 conv2d', 'stem 7x7/2 conv2dWeightGrad', 'layer1 3x3/1 conv2d', 'layer1 3x3/1 conv2dWeightGrad',
    ]);
    for (const row of rows) {
      expect(row.tunedMs).toBeGreaterThan(0);
      expect(row.candidates).toBeGreaterThan(1);
      expect(row.rejected).toEqual([]);
      // Variants print as the tagged union of src/kernels/conv/variant.ts.
      expect(['register', 'shared', 'workgroup', 'winograd']).toContain(row.choice.kind);
    }
    const { summary } = lines.at(-1);
    expect(summary.entries).toBe(4);
    expect(readdirSync(cache)).toEqual([summary.file.split('/').pop()]);
    const file = JSON.parse(readFileSync(summary.file, 'utf8'));
    expect(Object.keys(file.entries)).toHaveLength(4);
    expect(file.format).toBe(TUNING_FORMAT);
    for (const e of Object.values(file.entries) as { choice: { kind: string } }[]) expect(typeof e.choice.kind).toBe('string');

    const bench = gpuseg(['bench', 'train', '--batch', '1', '--size', '64', '--steps', '1', '--warmup', '0', '--json'], env);
    expect(bench.status, bench.stderr).toBe(0);
    expect(JSON.parse(bench.stdout).tuningEntries).toBe(4);
    const off = gpuseg(['bench', 'train', '--batch', '1', '--size', '64', '--steps', '1', '--warmup', '0', '--json'], { ...env, GPUSEG_TUNING: 'off' });
    expect(JSON.parse(off.stdout).tuningEntries).toBe(0);

    // A corrupt file: one line saying so, and the run goes on without it.
    writeFileSync(summary.file, '{ not json');
    const corrupt = gpuseg(['bench', 'train', '--batch', '1', '--size', '64', '--steps', '1', '--warmup', '0', '--json'], env);
    expect(corrupt.status, corrupt.stderr).toBe(0);
    expect(JSON.parse(corrupt.stdout).tuningEntries).toBe(0);
    expect(corrupt.stderr).toMatch(/gpuseg: .*tuning-.*\.json: not valid JSON/);
  });

  it('names the flag on a bad kernel list or size', () => {
    const r = gpuseg(['tune', '--kernels', 'conv2d,conv3d']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--kernels: unknown kernel 'conv3d'/);
    const s = gpuseg(['tune', '--size', '100']);
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/--size must be a multiple of 32/);
  });

  it('tuneUnet measures only what the file lacks when asked, and adds the inference batch', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'gpuseg-tune-'));
    const saved = process.env.GPUSEG_CACHE_DIR;
    process.env.GPUSEG_CACHE_DIR = cache;
    const gpu = await Gpu.open();
    try {
      const o = { batch: 1, size: 64, kernels: ['conv2d' as const], layers: 2, quiet: true };
      const rows: string[] = [];
      const first = await tuneUnet(gpu, { ...o, inference: true }, (r) => rows.push(`${r.layer} ${r.batch}`));
      expect(rows).toEqual(['stem 7x7/2 1', 'layer1 3x3/1 1', 'stem 7x7/2 4', 'layer1 3x3/1 4']);
      expect(first).toMatchObject({ tuned: 4, skipped: 0, entries: 4 });
      // An entry of older shader text in the file: dropped, and nothing measured again.
      const file = await loadAdapterTuning(gpu.summary);
      expect(file.loaded).toBe(4);
      file.table.set('conv2d#0ldha5h#n=1', { choice: { kind: 'register', tm: 8, nv: 2, wg: 64 }, ms: 1, defaultMs: 1 });
      await file.table.save(file.path);
      const again = await tuneUnet(gpu, { ...o, inference: true, skipTuned: true });
      expect(again).toMatchObject({ tuned: 0, skipped: 4, pruned: 1, entries: 4 });
      expect((await loadAdapterTuning(gpu.summary)).loaded).toBe(4);
      const wider = await tuneUnet(gpu, { ...o, layers: 3, skipTuned: true });
      expect(wider).toMatchObject({ tuned: 1, skipped: 2, entries: 5 });
    } finally {
      gpu.destroy();
      if (saved === undefined) delete process.env.GPUSEG_CACHE_DIR;
      else process.env.GPUSEG_CACHE_DIR = saved;
    }
  });

  it('train --tune names the flag of a size it cannot tune, before any work', () => {
    const r = gpuseg(['train', '--data', 'nowhere', '--out', 'nowhere', '--size', '100', '--tune']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('gpuseg:'))).toEqual([expect.stringMatching(/--size must be a multiple of 32/)]);
  });
});
