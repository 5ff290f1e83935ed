// `npm run bench:compare`: ours (`gpuseg bench train`) against the TensorFlow.js WebGPU peer
// (bench/peers/tfjs.ts) on the same adapter, each in its own child process so that neither inherits the
// other's device, pipelines or heap; alternating A B A B so that a change of machine load (other work
// on the same cores) falls on both alike. Prints the ratios tfjs / ours (above 1: ours is faster).
//
//   npm run bench:compare -- --batch 2 --size 128 --steps 5 --rounds 2 [--json]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const DEFAULTS = { batch: 2, size: 128, steps: 5, rounds: 2, warmup: 2 };

/** The fields both benchmarks print (src/measure/train.ts and bench/peers/tfjs.ts). */
interface Run {
  impl: string;
  adapter?: string;
  stepMs: number;
  trainImagesPerSecond: number;
  inferMs: number;
  inferImagesPerSecond: number;
  poolPeakBytes?: number;
}

interface Side {
  /** Medians over the rounds. */
  stepMs: number;
  inferMs: number;
  runs: Run[];
}

/** Runs a benchmark in a child process and returns the JSON line it prints last. */
function runChild(script: string, args: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || !line) {
        reject(new Error(`${script} ${args.join(' ')} exited with ${code}:\n${(err || out).trim().split('\n').slice(-20).join('\n')}`));
        return;
      }
      resolvePromise(JSON.parse(line) as Run);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function side(runs: Run[]): Side {
  return { stepMs: median(runs.map((r) => r.stepMs)), inferMs: median(runs.map((r) => r.inferMs)), runs };
}

function integer(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      batch: { type: 'string', default: String(DEFAULTS.batch) },
      size: { type: 'string', default: String(DEFAULTS.size) },
      steps: { type: 'string', default: String(DEFAULTS.steps) },
      rounds: { type: 'string', default: String(DEFAULTS.rounds) },
      warmup: { type: 'string', default: String(DEFAULTS.warmup) },
      json: { type: 'boolean', default: false },
    },
  });
  const o = {
    batch: integer('batch', values.batch, 1),
    size: integer('size', values.size, 32),
    steps: integer('steps', values.steps, 1),
    rounds: integer('rounds', values.rounds, 1),
    warmup: integer('warmup', values.warmup, 0),
  };
  const common = ['--batch', String(o.batch), '--size', String(o.size), '--steps', String(o.steps), '--warmup', String(o.warmup), '--json'];
  const ours: Run[] = [];
  const tfjs: Run[] = [];
  for (let round = 0; round < o.rounds; round++) {
    if (!values.json) process.stderr.write(`round ${round + 1}/${o.rounds}: gpuseg, tfjs-webgpu\n`);
    ours.push(await runChild('src/cli/main.ts', ['bench', 'train', ...common]));
    tfjs.push(await runChild('bench/peers/tfjs.ts', ['--backend', 'webgpu', ...common]));
  }
  const a = side(ours);
  const b = side(tfjs);
  const summary = {
    batch: o.batch,
    size: o.size,
    steps: o.steps,
    rounds: o.rounds,
    adapter: ours[0]?.adapter ?? tfjs[0]?.adapter,
    // Ours reports the mean step with the loss read back one step late (double-buffered); tfjs reads it
    // back before the next step starts. Both read every loss.
    gpuseg: a,
    tfjs: b,
    ratios: { step: b.stepMs / a.stepMs, infer: b.inferMs / a.inferMs },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const peaks = a.runs.flatMap((r) => (r.poolPeakBytes === undefined ? [] : [r.poolPeakBytes]));
  const peak = peaks.length ? median(peaks) : undefined;
  const row = (name: string, s: Side, extra = '') =>
    `${name.padEnd(12)} ${s.stepMs.toFixed(1).padStart(10)} ${s.inferMs.toFixed(1).padStart(10)}  ${extra}\n`;
  process.stdout.write(
    `ResNet-34 UNet, batch ${o.batch}, ${o.size}x${o.size}, ${o.rounds} rounds (medians), on ${summary.adapter}\n` +
      `${'impl'.padEnd(12)} ${'step ms'.padStart(10)} ${'infer ms'.padStart(10)}\n` +
      row('gpuseg', a, peak !== undefined ? `pool peak ${(peak / 2 ** 20).toFixed(0)} MiB` : '') +
      row('tfjs-webgpu', b) +
      `${'tfjs / ours'.padEnd(12)} ${summary.ratios.step.toFixed(2).padStart(10)} ${summary.ratios.infer.toFixed(2).padStart(10)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:compare: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
