// Runs the CLI from source in a child process, as a user would (exit status, stdout, stderr).
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { synthesize } from '../../src/data/synth.js';

/** A CLI run may build pipelines and train a few steps on lavapipe: minutes, not seconds. */
const CLI_TIMEOUT_MS = 200_000;

export function gpuseg(args: string[], env: Record<string, string> = {}, timeout = CLI_TIMEOUT_MS): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout,
  });
}

/**
 * A temporary folder holding a tiny synthetic category (fabric, 32x32: 6 normal training images, 2
 * normal test images, 3 per defect type) for one test file, removed after it. Call at the file's top.
 */
export function useTinyCategory(prefix: string): { dir: string; category: string } {
  const ctx = { dir: '', category: '' };
  beforeAll(async () => {
    ctx.dir = mkdtempSync(join(tmpdir(), prefix));
    const summary = await synthesize(join(ctx.dir, 'data'), { size: 32, categories: ['fabric'], trainGood: 6, testGood: 2, perType: 3 });
    ctx.category = summary.categories[0]!.dir;
  });
  afterAll(() => rmSync(ctx.dir, { recursive: true, force: true }));
  return ctx;
}
