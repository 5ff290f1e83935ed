import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TUNING_FORMAT, TuningTable, cacheDirectory, shapeKey, tuningPath } from '../../src/gpu/tuning.js';

const ID = 'llvmpipe | mesa | cpu | lavapipe | subgroups';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'gpuseg-tuning-'));
}

describe('tuning table', () => {
  it('keys do not depend on field order, and differ by kernel, shader hash and shape', () => {
    expect(shapeKey({ n: 1, h: 8, cin: 4 })).toBe(shapeKey({ cin: 4, h: 8, n: 1 }));
    const key = TuningTable.key('conv2d', 'abc', { n: 1, h: 8 });
    expect(TuningTable.key('conv2d', 'abc', { h: 8, n: 1 })).toBe(key);
    expect(TuningTable.key('conv2dInputGrad', 'abc', { n: 1, h: 8 })).not.toBe(key);
    expect(TuningTable.key('conv2d', 'abd', { n: 1, h: 8 })).not.toBe(key);
    expect(TuningTable.key('conv2d', 'abc', { n: 2, h: 8 })).not.toBe(key);
  });

  it("drops a kernel's entries measured on other shader text, and only those", () => {
    const table = new TuningTable(ID);
    const entry = { choice: {}, ms: 1, defaultMs: 1 };
    table.set(TuningTable.key('conv2d', 'old', { n: 1 }), entry);
    table.set(TuningTable.key('conv2d', 'new', { n: 1 }), entry);
    table.set(TuningTable.key('conv2dInputGrad', 'old', { n: 1 }), entry);
    expect(table.pruneStale('conv2d', 'new')).toBe(1);
    expect(table.size).toBe(2);
    expect(table.get(TuningTable.key('conv2d', 'new', { n: 1 }))).toBeDefined();
    expect(table.get(TuningTable.key('conv2dInputGrad', 'old', { n: 1 }))).toBeDefined();
  });

  it('saves and loads its entries; another adapter gets another file', async () => {
    const dir = await tempDir();
    const table = new TuningTable(ID);
    table.set('conv2d#h#n=1', { choice: { kind: 'shared', tm: 16, nv: 1, wg: 8 }, ms: 1.5, defaultMs: 2 });
    table.set('conv2dWeightGrad#h#n=1', { choice: { kind: 'register', tm: 4, nv: 2, wg: 64, targetInvocations: 4096 }, ms: 3, defaultMs: 3 });
    const path = tuningPath(ID, dir);
    await table.save(path);
    expect(tuningPath('another gpu | nvidia', dir)).not.toBe(path);

    const loaded = new TuningTable(ID);
    expect(await loaded.load(path)).toEqual({ loaded: 2 });
    expect(loaded.get('conv2d#h#n=1')).toEqual(table.get('conv2d#h#n=1'));
    expect(loaded.get('conv2dWeightGrad#h#n=1')?.choice).toEqual({ kind: 'register', tm: 4, nv: 2, wg: 64, targetInvocations: 4096 });
    expect(JSON.parse(await readFile(path, 'utf8')).format).toBe(TUNING_FORMAT);
  });

  it("ignores, and says why, a file that is corrupt, of another adapter, or missing; drops malformed entries", async () => {
    const dir = await tempDir();
    const table = new TuningTable(ID);
    expect(await table.load(join(dir, 'none.json'))).toEqual({ loaded: 0 });

    const corrupt = join(dir, 'corrupt.json');
    await writeFile(corrupt, `{"format": ${TUNING_FORMAT}, "adapter": `);
    const c = await table.load(corrupt);
    expect(c.loaded).toBe(0);
    expect(c.problem).toMatch(/corrupt\.json: not valid JSON/);

    const foreign = join(dir, 'foreign.json');
    const other = new TuningTable('another gpu');
    other.set('k', { choice: {}, ms: 1, defaultMs: 1 });
    await other.save(foreign);
    const f = await table.load(foreign);
    expect(f.loaded).toBe(0);
    expect(f.problem).toMatch(/foreign\.json: not a tuning file .* of adapter/);
    expect(table.size).toBe(0);

    const mixed = join(dir, 'mixed.json');
    const entries = { good: { choice: { tm: 8 }, ms: 1, defaultMs: 2 }, noTime: { choice: {} }, notAnObject: 3 };
    await writeFile(mixed, JSON.stringify({ format: TUNING_FORMAT, adapter: ID, entries }));
    expect(await table.load(mixed)).toEqual({ loaded: 1 });
    expect(table.get('good')?.choice).toEqual({ tm: 8 });
    expect(table.get('noTime')).toBeUndefined();

    // Format 1 wrote the conv variants without their kind ({ tm, nv, wg, shareX }, { workgroup: true, ... }):
    // such a file is ignored whole, and says so.
    table.clear();
    const old = join(dir, 'format1.json');
    await writeFile(old, JSON.stringify({ format: 1, adapter: ID, entries: { k: { choice: { tm: 32, nv: 1, wg: 8, shareX: true }, ms: 1, defaultMs: 2 } } }));
    const o = await table.load(old);
    expect(o.loaded).toBe(0);
    expect(o.problem).toBe(`${old}: written by an older gpuseg (format 1, this one reads ${TUNING_FORMAT}); ignored: run \`gpuseg tune\` again`);
    expect(table.size).toBe(0);
  });

  it('saving leaves no temporary file and creates the folder', async () => {
    const dir = join(await tempDir(), 'nested', 'cache');
    const table = new TuningTable(ID);
    table.set('k', { choice: { tm: 4 }, ms: 1, defaultMs: 1 });
    const path = tuningPath(ID, dir);
    await table.save(path);
    const file = JSON.parse(await readFile(path, 'utf8')) as { adapter: string; entries: object };
    expect(file.adapter).toBe(ID);
    expect(Object.keys(file.entries)).toEqual(['k']);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual([path.split('/').pop()]);
  });

  it('the cache folder follows GPUSEG_CACHE_DIR, then XDG_CACHE_HOME', () => {
    expect(cacheDirectory({ GPUSEG_CACHE_DIR: '/x/y' })).toBe('/x/y');
    expect(cacheDirectory({ XDG_CACHE_HOME: '/c' })).toBe('/c/gpuseg');
    expect(cacheDirectory({})).toMatch(/\.cache\/gpuseg$/);
  });
});
