// One writer per run folder (run-lock.ts): a live holder is named and refused, a lock whose holder is
// gone from this host is taken over with a warning, a holder on another host is never taken over, and
// a lock that created its folder removes it again when nothing else was written there.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRun } from '../../src/run/run-lock.js';

const root = mkdtempSync(join(tmpdir(), 'gpuseg-lock-'));
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
afterAll(() => {
  sleeper.kill();
  rmSync(root, { recursive: true, force: true });
});

/** A pid that names no process: one that has just exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

function writeLock(dir: string, holder: { pid: number; host: string }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ format: 'gpuseg-lock/1', bootId: null, token: `t-${holder.pid}`, started: '', ...holder }));
}

describe('run folder lock', () => {
  it('creates the folder and a lock naming this process; release removes both when nothing else was written', async () => {
    const dir = join(root, 'new', 'run');
    const lock = await lockRun(dir, { what: '--out' });
    const holder = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    expect([holder.pid, holder.host]).toEqual([process.pid, hostname()]);
    // Taken twice by one process (a cell, then its training): the second release gives it back.
    const again = await lockRun(dir, { what: '--out' });
    await again.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    await lock.release();
    expect(existsSync(join(root, 'new'))).toBe(false);
  });

  it('keeps the folder once the run has written in it', async () => {
    const dir = join(root, 'kept');
    const lock = await lockRun(dir, { what: '--out' });
    writeFileSync(join(dir, 'config.json'), '{}');
    await lock.release();
    expect(existsSync(join(dir, 'config.json'))).toBe(true);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a folder held by a live process on this host, naming its pid and host', async () => {
    const dir = join(root, 'busy');
    writeLock(dir, { pid: sleeper.pid!, host: hostname() });
    await expect(lockRun(dir, { what: '--out' })).rejects.toThrow(`'${dir}' is in use by gpuseg pid ${sleeper.pid} on host ${hostname()}; wait for it or stop it`);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(sleeper.pid);
  });

  it('takes over the lock of a process that is gone, with a warning', async () => {
    const dir = join(root, 'stale');
    const pid = deadPid();
    writeLock(dir, { pid, host: hostname() });
    const warnings: string[] = [];
    const lock = await lockRun(dir, { what: '--out', onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([`'${dir}' was locked by gpuseg pid ${pid} on host ${hostname()}, which is no longer running; took it over`]);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('never takes over a lock from another host, and says how to clear it', async () => {
    const dir = join(root, 'elsewhere');
    writeLock(dir, { pid: deadPid(), host: 'some-other-host' });
    await expect(lockRun(dir, { what: '--out' })).rejects.toThrow(/is in use by gpuseg pid \d+ on host some-other-host; wait for it or stop it \(if it is gone, delete '.*\.gpuseg\.lock'\)/);
  });

  it('--resume never creates its folder', async () => {
    await expect(lockRun(join(root, 'missing'), { what: '--resume', create: false })).rejects.toThrow(/--resume '.*missing': no such folder/);
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });
});
