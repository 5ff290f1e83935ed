// A killed training run loses nothing: `gpuseg train --resume RUN` continues from the newest complete
// checkpoint and ends with weights bit-identical to an uninterrupted run with the same seeds on the same
// adapter (weights, Adam's moments and step, the schedule, and the random stream of the batches: shots,
// normal images, flips, crop-and-paste). Killed between checkpoints and during a checkpoint's write.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuseg } from '../cli/gpuseg.js';

const STEPS = 4;
/** The full method (normal images, crop-and-paste, weights after the first step) at the smallest size. */
const TRAIN = ['--size', '32', '--batch', '4', '--steps', String(STEPS), '--checkpoint-every', '2', '--validate-every', '0', '--no-eval'];
const POLL_MS = 100;
const KILL_TIMEOUT_MS = 120_000;

function logSteps(run: string): number[] {
  return readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
}

/** Starts a training process and SIGKILLs it once `ready(run)` holds; resolves when it has died. */
async function killWhen(args: string[], ready: () => boolean): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  const started = Date.now();
  while (!ready()) {
    if (child.exitCode !== null) throw new Error('the run ended before the moment to kill it');
    if (Date.now() - started > KILL_TIMEOUT_MS) throw new Error('timed out waiting for the moment to kill the run');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  child.kill('SIGKILL');
  await exited;
}

describe('train --resume after a kill', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-resume-'));
  // Ten runs with checkpoints: over a gigabyte, never left behind.
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data', 'fabric');
  const whole = join(dir, 'whole');

  it('an uninterrupted run, for reference', () => {
    let r = gpuseg(['synth', join(dir, 'data'), '--size', '32', '--categories', 'fabric', '--train-good', '6', '--test-good', '1', '--per-type', '2']);
    expect(r.status, r.stderr).toBe(0);
    r = gpuseg(['train', '--data', data, '--out', whole, ...TRAIN]);
    expect(r.status, r.stderr).toBe(0);
    expect(logSteps(whole)).toEqual([1, 2, 3, 4]);
  });

  it('killed during the write of a checkpoint: resumes from the one before, and ends bit-identical', () => {
    const run = join(dir, 'cut-in-checkpoint');
    let r = gpuseg(['train', '--data', data, '--out', run, ...TRAIN], { GPUSEG_FAULT: `kill-in-checkpoint:${STEPS}` });
    expect(r.signal).toBe('SIGKILL');
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['step-000002', `step-00000${STEPS}.tmp`]);
    // And what a kill between writing a link and renaming it would leave.
    writeFileSync(join(run, 'last.safetensors.tmp-12345'), 'partial');
    r = gpuseg(['train', '--resume', run]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(run, 'checkpoints'))).toEqual([`step-00000${STEPS}`]);
    expect(readdirSync(run).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(readFileSync(join(run, 'last.safetensors')).equals(readFileSync(join(whole, 'last.safetensors')))).toBe(true);
    expect(readFileSync(join(run, 'optimizer.safetensors')).equals(readFileSync(join(whole, 'optimizer.safetensors')))).toBe(true);
    expect(logSteps(run)).toEqual([1, 2, 3, 4]);
  });

  it('killed between checkpoints: the folder still predicts, and the resumed run ends bit-identical', async () => {
    const run = join(dir, 'cut-between');
    // Checkpoint 2 is complete once its folder has its final name and config.json records it (written last);
    // then step 3 runs. (Polling for the folder alone could kill before the first config.json: a CI run did.)
    const done = () => existsSync(join(run, 'checkpoints', 'step-000002')) && existsSync(join(run, 'config.json'));
    await killWhen(['train', '--data', data, '--out', run, ...TRAIN], done);
    const images = join(data, 'test', 'good');
    let r = gpuseg(['predict', images, '--model', run, '--out', join(dir, 'pred'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    r = gpuseg(['train', '--resume', run, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(run, 'last.safetensors')).equals(readFileSync(join(whole, 'last.safetensors')))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).step).toBe(STEPS);
    expect(logSteps(run)).toEqual([1, 2, 3, 4]);
    // The decision threshold is chosen at the end, from the same weights: the same file.
    expect(readFileSync(join(run, 'threshold.json'), 'utf8')).toBe(readFileSync(join(whole, 'threshold.json'), 'utf8'));
  });

  it('killed at its first checkpoint before config.json is rewritten: resumes from it, predicts, ends bit-identical', () => {
    const run = join(dir, 'cut-before-config');
    let r = gpuseg(['train', '--data', data, '--out', run, ...TRAIN], { GPUSEG_FAULT: 'kill-before-config:2' });
    expect(r.signal).toBe('SIGKILL');
    expect(readdirSync(join(run, 'checkpoints'))).toEqual(['step-000002']);
    // config.json was written before the first step, so it records step 0, not the checkpoint's.
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).step).toBe(0);
    r = gpuseg(['predict', join(data, 'test', 'good'), '--model', run, '--out', join(dir, 'pred-before-config'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    r = gpuseg(['train', '--resume', run]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(run, 'last.safetensors')).equals(readFileSync(join(whole, 'last.safetensors')))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).step).toBe(STEPS);
    expect(logSteps(run)).toEqual([1, 2, 3, 4]);
  });

  it('on tiles (--tile 32 of 64x64 images): killed in its last checkpoint, resumes from step 2 and ends bit-identical', () => {
    // The tiles' places are drawn from the batches' stream too: a resume that drew them otherwise would differ.
    let r = gpuseg(['synth', join(dir, 'data64'), '--size', '64', '--categories', 'fabric', '--train-good', '6', '--test-good', '1', '--per-type', '2']);
    expect(r.status, r.stderr).toBe(0);
    const data64 = join(dir, 'data64', 'fabric');
    const tiled = TRAIN.filter((_, i) => i > 1).concat(['--tile', '32']);
    const ref = join(dir, 'tiled-whole');
    r = gpuseg(['train', '--data', data64, '--out', ref, ...tiled]);
    expect(r.status, r.stderr).toBe(0);
    const run = join(dir, 'tiled-cut');
    r = gpuseg(['train', '--data', data64, '--out', run, ...tiled], { GPUSEG_FAULT: `kill-in-checkpoint:${STEPS}` });
    expect(r.signal).toBe('SIGKILL');
    r = gpuseg(['train', '--resume', run]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'))).toMatchObject({ size: 32, tile: 32, scale: 1 });
    expect(readFileSync(join(run, 'last.safetensors')).equals(readFileSync(join(ref, 'last.safetensors')))).toBe(true);
    expect(logSteps(run)).toEqual([1, 2, 3, 4]);
  });

  it('refuses what it cannot resume, in one line', () => {
    let r = gpuseg(['train', '--resume', whole]);
    expect(r.stderr).toMatch(/--resume: the run in '.*whole' finished \(step 4 of 4\)/);
    // --steps may extend a run (test/cli/reliability.test.ts); every other setting is the run's own.
    r = gpuseg(['train', '--resume', whole, '--lr', '1e-3']);
    expect(r.stderr).toMatch(/--resume continues with the run's own settings; drop --lr/);
    r = gpuseg(['train', '--resume', join(dir, 'data')]);
    expect(r.stderr).toMatch(/config\.json: not found/);
    for (const res of [r]) expect(res.status).not.toBe(0);
  });
});
