// `gpuseg eval` writes eval.json, eval/ and the report into the run folder, so it holds the run's lock as
// train does: a run held by a live process is refused (exit 2, one line naming the holder) and left as it
// was; a lock left by a process that is gone is taken over with a warning, and given back at the end.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/run/run-lock.js';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const tiny = useTinyCategory('gpuseg-eval-lock-');
let run = '';
/** What eval.json holds before the refused eval: any change shows that eval wrote it. */
const SENTINEL = '{"sentinel": true}\n';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function writeLock(pid: number): void {
  writeFileSync(join(run, LOCK_FILE), JSON.stringify({ format: 'gpuseg-lock/1', pid, host: hostname(), bootId: null, token: `t-${pid}`, started: '' }));
}

beforeAll(() => {
  run = join(tiny.dir, 'run');
  const r = gpuseg(['train', '--data', tiny.category, '--out', run, '--size', '32', '--batch', '2', '--steps', '2', '--validate-every', '0', '--no-eval', '--json']);
  expect(r.status, r.stderr).toBe(0);
});

describe('gpuseg eval and the run lock', () => {
  it('refuses a run held by a live process, naming it, and leaves eval.json and the lock as they were', () => {
    writeFileSync(join(run, 'eval.json'), SENTINEL);
    writeLock(process.pid); // this test process: alive, and not the CLI's own pid
    const r = gpuseg(['eval', '--model', run, '--json']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`gpuseg: '${run}' is in use by gpuseg pid ${process.pid} on host ${hostname()}; wait for it or stop it`);
    expect(r.stdout).toBe('');
    expect(readFileSync(join(run, 'eval.json'), 'utf8')).toBe(SENTINEL);
    expect(existsSync(join(run, 'eval'))).toBe(false);
    expect(JSON.parse(readFileSync(join(run, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
  });

  it('takes over the lock of a process that is gone, with a warning, evaluates, and gives the lock back', () => {
    const dead = Number(String(spawnSync('sh', ['-c', 'echo $$']).stdout).trim());
    writeLock(dead);
    const r = gpuseg(['eval', '--model', run, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^gpuseg: warning: '${escape(run)}' was locked by gpuseg pid ${dead} on host ${escape(hostname())}, which is no longer running; took it over$`, 'm'));
    expect(JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')).format).toBe('gpuseg-eval/1');
    expect(existsSync(join(run, LOCK_FILE))).toBe(false);
  });
});
