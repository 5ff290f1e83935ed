// Runs a benchmark in a child process of its own (so that no two share a device, pipelines, thread pool
// or heap) and returns the JSON lines it printed; shared by the side-by-side benchmarks.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');

/** The JSON objects among the child's stdout lines, in order; rejects with the tail of its output. */
export function runJsonLines(command: string, args: string[], input?: string): Promise<unknown[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      if (code !== 0 || lines.length === 0) {
        const tail = (err || out).trim().split('\n').slice(-20).join('\n');
        reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${tail}`));
        return;
      }
      resolvePromise(lines.map((l) => JSON.parse(l) as unknown));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A TypeScript script of ours (run from source with tsx): the last JSON line it printed. */
export async function runScript<T>(script: string, args: string[]): Promise<T> {
  const lines = await runJsonLines(process.execPath, ['--import', 'tsx', script, ...args]);
  return lines[lines.length - 1] as T;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** An integer flag's value, at least `min`; else an error naming the flag. */
export function integer(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}
