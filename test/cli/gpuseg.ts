// Runs the CLI from source in a child process, as a user would (exit status, stdout, stderr).
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';

/** A CLI run may build pipelines and train a few steps on lavapipe: minutes, not seconds. */
const CLI_TIMEOUT_MS = 200_000;

export function gpuseg(args: string[], env: Record<string, string> = {}, timeout = CLI_TIMEOUT_MS): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout,
  });
}
