// The experiment grid on BullMQ over a real Redis (Debian's redis-server on a free loopback port, no
// persistence): two workers as child processes of the CLI, one of them SIGKILLed in the middle of its
// cell (GPUSEG_FAULT=kill-in-checkpoint: the kill comes while it writes the cell's last checkpoint). The
// grid must end with the same numbers as a local run of the same grid, the killed cell continued from
// its checkpoint by the other worker; a cell that always fails must end failed after 3 attempts without
// holding up the grid; bad URLs and an unreachable Redis must be one line and a quick exit.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuseg } from '../cli/gpuseg.js';

/** Short queue timings, so that a killed worker's cell moves on within seconds (the defaults are a minute). */
const QUEUE_ENV = { GPUSEG_QUEUE_LOCK_MS: '5000', GPUSEG_QUEUE_STALLED_MS: '1000', GPUSEG_QUEUE_POLL_MS: '250' };
/** The grid: 2 cells of 3 steps at 32x32, a checkpoint at step 2 (with Adam's state) and at the end. */
const GRID = ['--size', '32', '--steps', '3', '--checkpoint-every', '2', '--split-seeds', '0', '--shots', '1', '--variants', 'baseline,full', '--validate-every', '0'];
const KILLED_CELL = 'baseline-1shot-split0';
const FAILING_CELL = 'full-1shot-split0';
const GRID_TIMEOUT_MS = 240_000;

/** A CLI process that runs while the test goes on, its output collected. */
class Cli {
  /** Every one started, so that a failed test leaves none running. */
  static readonly started: Cli[] = [];
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    Cli.started.push(this);
  }

  /** Resolves when stderr matches `pattern`; fails after `ms` or when the process ends first. */
  async waitFor(pattern: RegExp, ms: number): Promise<void> {
    const started = Date.now();
    while (!pattern.test(this.stderr)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`exited before ${pattern}:\n${this.stderr}`);
      if (Date.now() - started > ms) throw new Error(`no ${pattern} within ${ms} ms:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis(dir: string): Promise<{ process: ChildProcess; port: number }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir];
  const redis = spawn('redis-server', args);
  let output = '';
  redis.stdout.on('data', (d) => (output += d));
  const started = Date.now();
  while (!/Ready to accept connections/.test(output)) {
    if (redis.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
    if (Date.now() - started > 10_000) throw new Error(`redis-server did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { process: redis, port };
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
/** Timing is the one thing a queued run may change: the seconds of each cell. */
const withoutSeconds = (results: { cells: { seconds: unknown }[]; summary: { secondsPerStep: unknown }[] }) => ({
  ...results,
  cells: results.cells.map(({ seconds: _, ...c }) => c),
  summary: results.summary.map(({ secondsPerStep: _, ...r }) => r),
});
/** results.md less its timing column (each row's last but one cell: training seconds per step; the last, images per step, stays). */
const withoutCost = (md: string) => md.replace(/\| [\d.]+ \| ([\d–]+) \|$/gm, '| COST | $1 |');
/** report.html less what differs by folder and timing: the experiment folder, the training time, each cell's seconds. */
const comparableReport = (path: string, dir: string) =>
  readFileSync(path, 'utf8')
    .replaceAll(dir, 'EXPERIMENT')
    .replace(/<dd>[\d.]+ min<\/dd>/g, '<dd>TIME</dd>')
    .replace(/ · \d+ s<\/summary>/g, ' · SECONDS</summary>');

describe('gpuseg experiment --queue and gpuseg worker (BullMQ over a real redis-server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-queue-'));
  const data = join(dir, 'data', 'fabric');
  const folder = (name: string) => join(dir, name, 'exp');
  let redis: ChildProcess | null = null;
  let url = '';
  const workers: Cli[] = [];

  beforeAll(async () => {
    mkdirSync(join(dir, 'redis'));
    const r = await startRedis(join(dir, 'redis'));
    redis = r.process;
    url = `redis://127.0.0.1:${r.port}/0`;
    const s = gpuseg(['synth', join(dir, 'data'), '--size', '32', '--categories', 'fabric', '--train-good', '6', '--test-good', '2', '--per-type', '6']);
    expect(s.status, s.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const c of Cli.started) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    redis?.kill('SIGKILL');
    await Promise.all(Cli.started.map((c) => c.exited));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses URLs that are not redis:// and names an unreachable or wrong Redis in one line, quickly', async () => {
    const out = folder('refused');
    let r = gpuseg(['experiment', '--data', data, '--out', out, ...GRID, '--queue', 'http://127.0.0.1/0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^gpuseg: --queue 'http:\/\/127.0.0.1\/0': only redis:\/\/ and rediss:\/\/ URLs are supported, not http:\/\/\n$/);
    r = gpuseg(['worker', '--queue', 'redis://127.0.0.1/zero']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the path must be a database number/);

    const closed = await freePort();
    const started = Date.now();
    r = gpuseg(['worker', '--queue', `redis://127.0.0.1:${closed}/0`]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toBe(`gpuseg: cannot reach Redis at redis://127.0.0.1:${closed}/0 (connect ECONNREFUSED 127.0.0.1:${closed})\n`);
    expect(Date.now() - started).toBeLessThan(15_000);

    // A database the server does not have: ioredis would quietly carry on in database 0.
    r = gpuseg(['experiment', '--data', data, '--out', out, ...GRID, '--queue', url.replace(/\/0$/, '/99')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^gpuseg: cannot reach Redis at redis:\/\/127.0.0.1:\d+\/99 \(ERR DB index is out of range\)\n$/);
    expect(existsSync(out), 'nothing written before the queue answered').toBe(false);
  });

  it('runs the grid on two workers, one SIGKILLed mid-cell, to the same results as a local run', async () => {
    // The local run goes on beside the queued one: it is independent of it, and the two share the cores
    // better than one after the other (process starts, image checks, evaluation are single-threaded).
    const local = new Cli(['experiment', '--data', data, '--out', folder('local'), ...GRID, '--json']);

    // Worker A is alone when the cells arrive, so it takes the first one; it dies writing that cell's
    // last checkpoint, which leaves the checkpoint of step 2 for worker B to continue from.
    const a = new Cli(['worker', '--queue', url], { ...QUEUE_ENV, GPUSEG_FAULT: 'kill-in-checkpoint:3' });
    workers.push(a);
    await a.waitFor(/waiting for cells/, 60_000);
    const experiment = new Cli(['experiment', '--data', data, '--out', folder('queue'), ...GRID, '--queue', url, '--json'], QUEUE_ENV);
    await experiment.waitFor(/2 enqueued/, 60_000);
    await a.waitFor(new RegExp(`cell ${KILLED_CELL}: attempt 1/3, starting`), 30_000);
    const b = new Cli(['worker', '--queue', url], { ...QUEUE_ENV, GPUSEG_FAULT: `fail-cell:failing/exp/cells/${FAILING_CELL}` });
    workers.push(b);

    const ended = await experiment.exited;
    expect(ended.code, experiment.stderr).toBe(0);
    expect((await local.exited).code, local.stderr).toBe(0);
    expect((await a.exited).signal, a.stderr).toBe('SIGKILL');
    expect(b.stderr).toMatch(new RegExp(`cell ${KILLED_CELL}: attempt \\d/3, continuing from the checkpoint of step 2`));
    expect(b.stderr).toMatch(new RegExp(`cell ${FAILING_CELL}: attempt 1/3, starting`));

    const queued = JSON.parse(experiment.stdout);
    expect(queued).toEqual(readJson(join(folder('queue'), 'results.json')));
    expect(withoutSeconds(queued)).toEqual(withoutSeconds(JSON.parse(local.stdout)));
    for (const c of queued.cells) expect(Number.isFinite(c.overall.iou), c.run).toBe(true);
    expect(existsSync(join(folder('queue'), 'cells', KILLED_CELL, 'optimizer.safetensors')), 'Adam state dropped when the cell ended').toBe(false);
    expect(withoutCost(readFileSync(join(folder('queue'), 'results.md'), 'utf8'))).toBe(withoutCost(readFileSync(join(folder('local'), 'results.md'), 'utf8')));
    expect(comparableReport(join(folder('queue'), 'report.html'), folder('queue'))).toBe(comparableReport(join(folder('local'), 'report.html'), folder('local')));
  }, GRID_TIMEOUT_MS);

  it('ends a cell that always fails as failed after 3 attempts, writes the rest and exits 1 naming it', async () => {
    // The same grid with its first cell already done (copied), so that only the failing cell is queued.
    const out = folder('failing');
    mkdirSync(join(out, 'cells'), { recursive: true });
    cpSync(join(folder('queue'), 'experiment.json'), join(out, 'experiment.json'));
    cpSync(join(folder('queue'), 'cells', KILLED_CELL), join(out, 'cells', KILLED_CELL), { recursive: true });
    const experiment = new Cli(['experiment', '--data', data, '--out', out, ...GRID, '--queue', url, '--json'], QUEUE_ENV);
    const ended = await experiment.exited;
    expect(ended.code, experiment.stderr).toBe(1);
    expect(experiment.stderr).toMatch(/1 enqueued, 1 finished before/);
    expect(experiment.stderr).toMatch(new RegExp(`gpuseg: 1 cell\\(s\\) failed after every attempt, .*${FAILING_CELL} \\(failed 3 time\\(s\\): injected fault`));
    const b = workers[1]!;
    for (const k of [1, 2, 3]) expect(b.stderr).toMatch(new RegExp(`cell ${FAILING_CELL} failed \\(attempt ${k}/3\\): injected fault`));
    const results = JSON.parse(experiment.stdout);
    const [kept, failed] = results.cells;
    expect(kept.overall).toEqual(readJson(join(folder('queue'), 'results.json')).cells[0].overall);
    expect(failed).toMatchObject({ run: `cells/${FAILING_CELL}`, overall: null, error: expect.stringMatching(/^failed 3 time\(s\): injected fault/) });
  }, GRID_TIMEOUT_MS);

  it('stops an idle worker cleanly on SIGTERM', async () => {
    const b = workers[1]!;
    b.child.kill('SIGTERM');
    const ended = await b.exited;
    expect(ended.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/SIGTERM: abandoning the current cell/);
  });

  it('leaves the queue to the cell folders: a plain rerun after the grid ended enqueues nothing', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'experiment', '--data', data, '--out', folder('queue'), ...GRID, '--queue', url], {
      encoding: 'utf8',
      env: { ...process.env, ...QUEUE_ENV },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/0 enqueued, 2 finished before/);
  });
});
