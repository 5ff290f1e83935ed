// Issue 26, reliability around a run, through the CLI as a user runs it: one writer per run folder,
// predict that never destroys or half-writes a file, a failed start that touches nothing, an unfinished
// run that says so, nothing dropped in silence, signals and messages, and extending a finished run.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/model/safetensors.js';
import { learningRate } from '../../src/train/optimizer.js';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const tiny = useTinyCategory('gpuseg-reliability-');
/** The smallest training: a few steps at 32x32, batch 2, no evaluation. */
const TINY = ['--size', '32', '--batch', '2', '--validate-every', '0', '--no-eval'];

interface Finished {
  pid: number;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI in the background; resolves when it ends. */
function start(args: string[], env: Record<string, string> = {}): { pid: number; done: Promise<Finished> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Finished>((resolve) => child.on('close', (status, signal) => resolve({ pid: child.pid!, status, signal, stdout, stderr })));
  return { pid: child.pid!, done };
}

function logSteps(run: string): number[] {
  return readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A finished tiny run for the predict and eval cases (trained by the first case). */
let run = '';

/** stderr without progress lines and warnings: the one line of an error. */
const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => l.startsWith('gpuseg: ') && !l.startsWith('gpuseg: warning: '));

describe('1. one writer per run folder', () => {
  it('two trains started together on one --out: one is refused naming the holder, the other run is intact', async () => {
    run = join(tiny.dir, 'together');
    const args = ['train', '--data', tiny.category, '--out', run, ...TINY, '--steps', '3'];
    const [a, b] = await Promise.all([start(args).done, start(args).done]);
    const [ok, refused] = a.status === 0 ? [a, b] : [b, a];
    expect(ok.status, ok.stderr).toBe(0);
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr.trim()).toBe(`gpuseg: '${run}' is in use by gpuseg pid ${ok.pid} on host ${hostname()}; wait for it or stop it`);
    expect(logSteps(run)).toEqual([1, 2, 3]);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).step).toBe(3);
    expect(existsSync(join(run, '.gpuseg.lock'))).toBe(false);
  });

  it('a lock left by a process that is gone is taken over, with a warning', () => {
    const run = join(tiny.dir, 'stale');
    const dead = Number(String(spawnSync('sh', ['-c', 'echo $$']).stdout).trim());
    spawnSync('mkdir', ['-p', run]);
    writeFileSync(join(run, '.gpuseg.lock'), JSON.stringify({ format: 'gpuseg-lock/1', pid: dead, host: hostname(), bootId: null, token: 'old', started: '' }));
    const r = gpuseg(['train', '--data', tiny.category, '--out', run, ...TINY, '--steps', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^gpuseg: warning: '${escape(run)}' was locked by gpuseg pid ${dead} on host ${escape(hostname())}, which is no longer running; took it over$`, 'm'));
    expect(logSteps(run)).toEqual([1, 2]);
    expect(readdirSync(run)).not.toContain('.gpuseg.lock');
  });
});

/** A tmpfs of 200 KiB (and a read-only one), which needs root: the cases that need them say so and skip when mounting fails. */
function useTmpfs(): { full: string; readOnly: string; mounted: () => string | null } {
  const ctx = { full: '', readOnly: '', why: null as string | null };
  beforeAll(() => {
    ctx.full = join(tiny.dir, 'small-disk');
    ctx.readOnly = join(tiny.dir, 'read-only');
    mkdirSync(ctx.full);
    mkdirSync(ctx.readOnly);
    for (const [dir, options] of [[ctx.full, 'size=200k'], [ctx.readOnly, 'ro,size=200k']] as const) {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
      if (r.status !== 0) ctx.why = `cannot mount a tmpfs (needs root): ${(r.stderr || r.error?.message || '').trim()}`;
    }
  });
  afterAll(() => {
    for (const dir of [ctx.full, ctx.readOnly]) spawnSync('umount', [dir]);
  });
  return { get full() { return ctx.full; }, get readOnly() { return ctx.readOnly; }, mounted: () => ctx.why };
}

/** Fills the file system of `dir` but for `leave` bytes. */
function fill(dir: string, leave: number): void {
  const s = statfsSync(dir);
  writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, s.bavail * s.bsize - leave)));
}

describe('2. predict never destroys or half-writes a file', () => {
  const disk = useTmpfs();
  const hole = () => join(tiny.category, 'test', 'hole');

  it('refuses to replace a ground-truth mask beside the image, and leaves it as it was', () => {
    const g = join(tiny.dir, 'g');
    mkdirSync(g);
    copyFileSync(join(hole(), '000.png'), join(g, '000.png'));
    copyFileSync(join(tiny.category, 'ground_truth', 'hole', '000_mask.png'), join(g, '000_mask.png'));
    const before = readFileSync(join(g, '000_mask.png'));
    const r = gpuseg(['predict', join(g, '000.png'), '--model', run, '--out', g]);
    expect(r.status, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: '${join(g, '000_mask.png')}' exists and was not written by gpuseg predict (an input or a ground-truth mask?); choose another --out`]);
    expect(readFileSync(join(g, '000_mask.png')).equals(before)).toBe(true);
    expect(readdirSync(g).sort()).toEqual(['000.png', '000_mask.png']);
  });

  it('refuses two inputs that would write the same names, naming both', async () => {
    for (const d of ['a', 'b']) {
      mkdirSync(join(tiny.dir, d, 'scratch'), { recursive: true });
      copyFileSync(join(hole(), '000.png'), join(tiny.dir, d, 'scratch', '000.png'));
    }
    const [a, b] = ['a', 'b'].map((d) => join(tiny.dir, d, 'scratch', '000.png'));
    let r = gpuseg(['predict', a!, b!, '--model', run, '--out', join(tiny.dir, 'pred-ab')]);
    expect(r.status, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: '${a}' and '${b}' would both be written as '${join(tiny.dir, 'pred-ab', 'scratch_000')}_*.png'; predict them into separate --out folders`]);
    const x = join(tiny.dir, 'x');
    mkdirSync(x);
    copyFileSync(join(hole(), '001.png'), join(x, 'x.png'));
    await sharp(join(x, 'x.png')).jpeg().toFile(join(x, 'x.jpg'));
    r = gpuseg(['predict', x, '--model', run, '--out', join(tiny.dir, 'pred-x')]);
    expect(r.status, r.stderr).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/'.*x\/x\.jpg' and '.*x\/x\.png' would both be written as '.*pred-x\/x_x_\*\.png'/);
    expect(existsSync(join(tiny.dir, 'pred-x'))).toBe(true);
    expect(readdirSync(join(tiny.dir, 'pred-x'))).toEqual([]);
  });

  it("skips dotfiles, macOS ._ files and its own earlier outputs in a folder; --json names exactly the files written", () => {
    const f = join(tiny.dir, 'f');
    mkdirSync(f);
    for (const n of ['000.png', '001.png']) copyFileSync(join(hole(), n), join(f, n));
    writeFileSync(join(f, '._000.png'), Buffer.alloc(4096, 7)); // a resource fork: not an image
    writeFileSync(join(f, '.hidden.png'), 'not an image');
    for (let round = 0; round < 2; round++) {
      // Into the folder it reads: the second round lists the first round's outputs and must not read them.
      const r = gpuseg(['predict', f, '--model', run, '--out', f, '--json']);
      expect(r.status, r.stderr).toBe(0);
      const written = JSON.parse(r.stdout).images as { image: string; probability: string; mask: string; overlay: string }[];
      expect(written.map((w) => w.image)).toEqual([join(f, '000.png'), join(f, '001.png')]);
      if (round === 1) expect(r.stderr).toMatch(/warning: .*left out 6 file\(s\) named like predict's outputs/);
      const files = written.flatMap((w) => [w.probability, w.mask, w.overlay]);
      expect(new Set(files).size).toBe(6);
      for (const file of files) expect(existsSync(file), file).toBe(true);
    }
    expect(readdirSync(f).sort()).toEqual(['._000.png', '.hidden.png', '000.png', '000_mask.png', '000_overlay.png', '000_prob.png', '001.png', '001_mask.png', '001_overlay.png', '001_prob.png', 'gpuseg-predict.json', 'regions.csv', 'verdicts.csv']);
  });

  it('a full disk reads "disk full" naming the folder, and leaves no half-written file (predict)', (ctx) => {
    const why = disk.mounted();
    if (why) ctx.skip(why);
    const out = join(disk.full, 'pred');
    mkdirSync(out);
    // Room for predict's record of its outputs (one page), none for the first PNG.
    fill(disk.full, 4096);
    const r = gpuseg(['predict', join(hole(), '000.png'), '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: disk full: no space left in '${out}' (writing '${join(out, '000_prob.png')}')`]);
    expect(r.stdout).toBe('');
    expect(readdirSync(out)).toEqual(['gpuseg-predict.json']);
  });

  it('a full disk reads "disk full" in train too; a read-only file system is named as such', (ctx) => {
    const why = disk.mounted();
    if (why) ctx.skip(why);
    const out = join(disk.full, 'run');
    spawnSync('rm', ['-f', join(disk.full, 'filler')]);
    let r = gpuseg(['train', '--data', tiny.category, '--out', out, ...TINY, '--steps', '2']);
    expect(r.status, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^gpuseg: disk full: no space left in '${escape(out)}/checkpoints/step-000002\\.tmp' \\(writing '.*model\\.safetensors'\\)$`))]);
    r = gpuseg(['predict', join(hole(), '000.png'), '--model', run, '--out', disk.readOnly]);
    expect(r.status, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: read-only file system: cannot write '${join(disk.readOnly, 'gpuseg-predict.json')}'`]);
  });
});

/** A finished tiny run of 2 steps, checkpointed at each, for extending (trained by case 3). */
let short = '';

describe('3. a failed start touches nothing', () => {
  it('a refused --encoder-weights or --adapter leaves no run folder, and the corrected command needs no --overwrite', () => {
    short = join(tiny.dir, 'short');
    const bad = join(tiny.dir, 'bad.safetensors');
    writeFileSync(bad, encodeSafetensors(new Map([['conv1.weight', { dtype: 'F32' as const, shape: [2], data: new Float32Array(2) }]])));
    const args = ['train', '--data', tiny.category, '--out', short, ...TINY, '--steps', '2', '--checkpoint-every', '1'];
    let r = gpuseg([...args, '--encoder-weights', bad]);
    expect(r.status, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: ${bad}: tensor 'encoder.conv1.weight' has shape [2], expected [64, 3, 7, 7]`]);
    // Checked before a single image is decoded.
    expect(r.stderr).not.toMatch(/checking images/);
    expect(existsSync(short)).toBe(false);
    r = gpuseg([...args, '--adapter', 'no-such-adapter']);
    expect(r.status, r.stderr).toBe(2);
    expect(existsSync(short)).toBe(false);
    r = gpuseg(args);
    expect(r.status, r.stderr).toBe(0);
    expect(logSteps(short)).toEqual([1, 2]);
  });
});

describe('4. an unfinished run says so', () => {
  it('predict and eval of a run killed after checkpoint 2 of 4 name the step of its weights; eval.json records it', () => {
    const killed = join(tiny.dir, 'killed');
    let r = gpuseg(['train', '--data', tiny.category, '--out', killed, ...TINY, '--steps', '4', '--checkpoint-every', '2'], { GPUSEG_FAULT: 'kill-in-checkpoint:4' });
    expect(r.signal).toBe('SIGKILL');
    const line = `gpuseg: warning: '${killed}': weights of step 2 of 4 (the run did not finish)`;
    r = gpuseg(['predict', join(tiny.category, 'test', 'hole', '000.png'), '--model', killed, '--out', join(tiny.dir, 'pred-killed')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n')).toContain(line);
    r = gpuseg(['eval', '--model', killed, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n')).toContain(line);
    expect(JSON.parse(r.stdout).step).toBe(2);
    expect(JSON.parse(readFileSync(join(killed, 'eval.json'), 'utf8')).step).toBe(2);
    // A finished run: its last step, and no such line.
    r = gpuseg(['eval', '--model', short, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/did not finish/);
    expect(JSON.parse(r.stdout).step).toBe(2);
  });
});

describe('5. nothing dropped in silence', () => {
  it('train names an empty defect type folder and a ground-truth folder without its test folder', () => {
    const copy = join(tiny.dir, 'layout', 'fabric');
    cpSync(tiny.category, copy, { recursive: true });
    mkdirSync(join(copy, 'test', 'crack'));
    mkdirSync(join(copy, 'ground_truth', 'stain-old'));
    // Refused at the adapter, after the category's check: the warnings come first.
    const r = gpuseg(['train', '--data', copy, '--out', join(tiny.dir, 'never'), ...TINY, '--steps', '1', '--adapter', 'no-such-adapter']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`gpuseg: warning: defect type folder '${join(copy, 'test', 'crack')}' holds no images: the type is left out\n`);
    expect(r.stderr).toContain(`gpuseg: warning: '${join(copy, 'ground_truth', 'stain-old')}' has no test folder '${join(copy, 'test', 'stain-old')}': its masks are not used\n`);
    expect(existsSync(join(tiny.dir, 'never'))).toBe(false);
  });
});

/** Starts a training and sends `signal` once `ready()` holds. */
async function signalWhen(args: string[], signal: NodeJS.Signals, ready: () => boolean): Promise<Finished> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Finished>((resolve) => child.on('close', (status, sig) => resolve({ pid: child.pid!, status, signal: sig, stdout: '', stderr })));
  const started = Date.now();
  while (!ready()) {
    if (child.exitCode !== null) throw new Error(`the run ended before the moment to stop it: ${stderr}`);
    if (Date.now() - started > 150_000) throw new Error('timed out waiting for the moment to stop the run');
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill(signal);
  return done;
}

describe('6. signals and messages', () => {
  const LONG = ['--size', '32', '--batch', '2', '--validate-every', '0', '--no-eval', '--steps', '1000'];

  it('SIGINT after a checkpoint names the step, the checkpoint kept and the command that continues; the exit stays a SIGINT', async () => {
    const runDir = join(tiny.dir, 'interrupted');
    const checkpointed = () => existsSync(join(runDir, 'config.json')) && JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).step >= 2;
    const r = await signalWhen(['train', '--data', tiny.category, '--out', runDir, ...LONG, '--checkpoint-every', '2'], 'SIGINT', checkpointed);
    expect(r.signal, r.stderr).toBe('SIGINT');
    const kept = Math.max(...readdirSync(join(runDir, 'checkpoints')).filter((n) => !n.endsWith('.tmp')).map((n) => Number(n.slice('step-'.length))));
    const m = r.stderr.match(/^gpuseg: stopped at step (\d+); checkpoint (\d+) kept; `gpuseg train --resume (.*)` continues$/m);
    expect(m, r.stderr).not.toBeNull();
    expect([Number(m![2]), m![3]]).toEqual([kept, runDir]);
    expect(Number(m![1])).toBeGreaterThanOrEqual(kept);
    expect(existsSync(join(runDir, '.gpuseg.lock'))).toBe(false);
  });

  it('SIGTERM before the first checkpoint says so, with the advice that --resume and predict give after a failed first checkpoint', async () => {
    const runDir = join(tiny.dir, 'terminated');
    const stepped = () => existsSync(join(runDir, 'log.jsonl')) && readFileSync(join(runDir, 'log.jsonl'), 'utf8').includes('\n');
    const r = await signalWhen(['train', '--data', tiny.category, '--out', runDir, ...LONG, '--checkpoint-every', '1000'], 'SIGTERM', stepped);
    expect(r.signal, r.stderr).toBe('SIGTERM');
    const advice = `the run stopped before its first checkpoint, so nothing can continue it; start it again with \`gpuseg train --data ${tiny.category} --out RUN --overwrite\` (and the flags its config.json records)`;
    expect(r.stderr).toMatch(new RegExp(`^gpuseg: stopped at step \\d+; no checkpoint was written: ${escape(advice.replace('RUN', runDir))}$`, 'm'));
    // Killed while writing its first checkpoint: --resume and predict say the same.
    const failed = join(tiny.dir, 'failed-first');
    let f = gpuseg(['train', '--data', tiny.category, '--out', failed, ...TINY, '--steps', '4', '--checkpoint-every', '2'], { GPUSEG_FAULT: 'kill-in-checkpoint:2' });
    expect(f.signal).toBe('SIGKILL');
    const said = advice.replace('RUN', failed);
    f = gpuseg(['train', '--resume', failed]);
    expect(f.status, f.stderr).toBe(2);
    expect(errorLines(f.stderr)).toEqual([`gpuseg: --resume: '${failed}' has no complete checkpoint: ${said}`]);
    f = gpuseg(['predict', join(tiny.category, 'test', 'hole', '000.png'), '--model', failed, '--out', join(tiny.dir, 'pred-failed')]);
    expect(f.status, f.stderr).toBe(2);
    expect(errorLines(f.stderr)).toEqual([`gpuseg: ${join(failed, 'last.safetensors')}: not found (the run folder '${failed}' has no final weights; ${said})`]);
  });

  it('--version prints the package version; train --help marks the required flags and shows every default', () => {
    let r = gpuseg(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync('package.json', 'utf8')).version}\n`);
    r = gpuseg(['train', '--help']);
    expect(r.status).toBe(0);
    // One entry per flag: its first line and the description lines under it.
    const entries = r.stdout.split('\n').reduce<string[]>((all, line) => {
      if (/^ {2}-/.test(line)) all.push(line.trim());
      else if (/^ {4,}\S/.test(line) && all.length) all[all.length - 1] += ` ${line.trim()}`;
      return all;
    }, []);
    const entry = (flag: string) => entries.find((e) => e.startsWith(`${flag} `))!;
    expect(entry('--data')).toMatch(/\(required, unless --resume\)/);
    expect(entry('--out')).toMatch(/\(required, unless --resume\)/);
    const withValue = entries.filter((e) => /^--[\w-]+ </.test(e) && !/^--(data|out|resume) /.test(e));
    expect(withValue.length).toBeGreaterThan(25);
    for (const e of withValue) expect(e, e).toMatch(/default:/);
    expect(r.stdout).toMatch(/Switches \(--no-\*, --overwrite, --tune, --json\) are off unless given/);
  });
});

describe('7. extending a finished run', () => {
  it('train --resume RUN --steps N continues a finished run to N, with the schedule of N steps; only --steps may change', () => {
    let r = gpuseg(['train', '--resume', short, '--steps', '4']);
    expect(r.status, r.stderr).toBe(0);
    expect(logSteps(short)).toEqual([1, 2, 3, 4]);
    expect(JSON.parse(readFileSync(join(short, 'config.json'), 'utf8'))).toMatchObject({ steps: 4, step: 4 });
    const lr = readFileSync(join(short, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).lr);
    expect(lr.slice(2)).toEqual([learningRate(2, 4, 1e-4), learningRate(3, 4, 1e-4)]);
    r = gpuseg(['train', '--resume', short, '--steps', '3']);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: --steps 3 with --resume: the run in '${short}' has 4 steps; --steps can only extend it`]);
    r = gpuseg(['train', '--resume', short, '--lr', '1e-3']);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: --resume continues with the run's own settings; drop --lr`]);
    r = gpuseg(['train', '--resume', short]);
    expect(errorLines(r.stderr)).toEqual([`gpuseg: --resume: the run in '${short}' finished (step 4 of 4); --steps N (more than 4) extends it`]);
  });
});
