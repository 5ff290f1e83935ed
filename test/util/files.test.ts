// The run folder's append-only log: whole lines in order, each synced, failures reported once and
// naming the file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LineLog } from '../../src/util/files.js';

const dir = mkdtempSync(join(tmpdir(), 'gpuseg-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LineLog', () => {
  it('appends whole lines in order after what the file held, without the caller waiting', async () => {
    const path = join(dir, 'log.jsonl');
    const first = new LineLog(path);
    first.append('{"step":1}');
    await first.close();
    const log = new LineLog(path);
    for (let i = 2; i <= 200; i++) log.append(JSON.stringify({ step: i, pad: 'x'.repeat(i) }));
    await log.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline: no partial last line
    expect(lines.map((l) => (JSON.parse(l) as { step: number }).step)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('flush() returns once every line appended so far is in the file', async () => {
    const path = join(dir, 'flushed.jsonl');
    const log = new LineLog(path);
    for (let i = 1; i <= 50; i++) log.append(JSON.stringify({ step: i }));
    await log.flush();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(50);
    log.append('{"step":51}');
    await log.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(51);
  });

  it('refuses a line holding a newline, which would break the one-record-per-line format', () => {
    expect(() => new LineLog(join(dir, 'x.jsonl')).append('a\nb')).toThrow(/must not contain a newline/);
  });

  it('reports a failed write at close, naming the file', async () => {
    const path = join(dir, 'no-such-folder', 'log.jsonl');
    const log = new LineLog(path);
    log.append('{}');
    log.append('{}');
    await expect(log.close()).rejects.toThrow(`${path}: cannot append (`);
  });
});
