// `npm run bench:compare`: ours (`gpuseg bench train`) against the TensorFlow.js WebGPU peer
// (bench/peers/tfjs.ts) on the same adapter, each in its own child process so that neither inherits the
// other's device, pipelines or heap; alternating A B A B so that a change of machine load (other work
// on the same cores) falls on both alike. Prints the ratios tfjs / ours (above 1: ours is faster).
//
//   npm run bench:compare -- --batch 2 --size 128 --steps 5 --rounds 2 [--json]
import { parseArgs } from 'node:util';
import { integer, median, runScript } from '../bench/child.js';

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

function side(runs: Run[]): Side {
  return { stepMs: median(runs.map((r) => r.stepMs)), inferMs: median(runs.map((r) => r.inferMs)), runs };
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
    ours.push(await runScript<Run>('src/cli/main.ts', ['bench', 'train', ...common]));
    tfjs.push(await runScript<Run>('bench/peers/tfjs.ts', ['--backend', 'webgpu', ...common]));
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
