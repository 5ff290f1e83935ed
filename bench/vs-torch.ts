// `npm run bench:torch`: ours against PyTorch on the CPU (bench/peers/torch_peer.py, oneDNN, --threads
// intra-op threads), side by side on the same machine in one run (issue 29). Each side runs in a child
// process of its own, alternating A B A B over the rounds so that a change of load falls on both alike.
//
// For each configuration (batch x size): the training step and inference, medians over the rounds, and
// ours as a share of PyTorch's speed (PyTorch's time / ours: 0.5 = half its speed). With --layers, every
// distinct conv layer of the network: our forward, input-gradient and weight-gradient kernels
// (`gpuseg bench kernels`) beside PyTorch's time for the same layer (its forward and aten's convolution_backward,
// as autograd runs them) and its implicit GEMM as a 1x1 convolution on oneDNN (the roofline), and each
// layer's share of the gap, weighted by how often the network has it.
//
//   npm run bench:torch -- [--configs 2x128,8x64] [--steps 5] [--warmup 2] [--rounds 2] [--threads 2] [--layers]
//
// --rounds 0 skips the whole-network comparison (with --layers: the layers alone).
//
// Prints one JSON object. Needs python3 with PyTorch (Debian: apt-get install python3-torch).
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { integer, median, runJsonLines, runScript } from './child.js';
import type { KernelResult } from '../src/measure/kernels.js';

/** The done-means of issue 29: ours as a share of PyTorch's CPU speed. */
export const TARGETS = { train: 0.5, infer: 0.3 };
const CONV_OPS = ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'] as const;

interface StepRun {
  stepMs: number;
  inferMs: number;
  adapter?: string;
  threads?: number;
  torch?: string;
}

export interface ConfigResult {
  batch: number;
  size: number;
  ours: { stepMs: number; inferMs: number; runs: number[][] };
  torch: { stepMs: number; inferMs: number; runs: number[][] };
  /** PyTorch's time / ours: ours as a share of PyTorch's speed. */
  speed: { train: number; infer: number };
  met: { train: boolean; infer: boolean };
}

export function compareConfig(batch: number, size: number, ours: StepRun[], torch: StepRun[]): ConfigResult {
  const side = (runs: StepRun[]) => ({
    stepMs: median(runs.map((r) => r.stepMs)),
    inferMs: median(runs.map((r) => r.inferMs)),
    runs: runs.map((r) => [r.stepMs, r.inferMs]),
  });
  const a = side(ours);
  const b = side(torch);
  const speed = { train: b.stepMs / a.stepMs, infer: b.inferMs / a.inferMs };
  return { batch, size, ours: a, torch: b, speed, met: { train: speed.train >= TARGETS.train, infer: speed.infer >= TARGETS.infer } };
}

export interface TorchLayerRow {
  layer: string;
  op: string;
  ms: number;
  gflops: number;
}

export interface LayerResult {
  layer: string;
  op: string;
  shape: string;
  count: number;
  oursMs: number;
  oursGflops: number;
  torchMs: number;
  torchGflops: number;
  /** PyTorch (oneDNN) on the layer's implicit GEMM, as a 1x1 convolution. */
  rooflineGflops: number;
  /** PyTorch's time / ours. */
  speed: number;
  /** count x (ours - PyTorch's) ms: this layer's part of the gap in one forward (conv2d) or backward pass. */
  gapMs: number;
}

/** Joins our conv kernel results with PyTorch's rows for the same layers (by layer name and op). */
export function joinLayers(ours: KernelResult[], torch: TorchLayerRow[]): LayerResult[] {
  const find = (layer: string, op: string) => {
    const row = torch.find((t) => t.layer === layer && t.op === op);
    if (!row) throw new Error(`the PyTorch peer has no ${op} for layer '${layer}'`);
    return row;
  };
  return ours
    .filter((r) => (CONV_OPS as readonly string[]).includes(r.op))
    .map((r) => {
      const t = find(r.layer, r.op);
      const roof = find(r.layer, 'matmul');
      const count = r.count ?? 1;
      return {
        layer: r.layer,
        op: r.op,
        shape: r.shape,
        count,
        oursMs: r.medianMs,
        oursGflops: r.gflops!,
        torchMs: t.ms,
        torchGflops: t.gflops,
        rooflineGflops: roof.gflops,
        speed: t.ms / r.medianMs,
        gapMs: count * (r.medianMs - t.ms),
      };
    });
}

/** Per op, summed over the network (each layer times its count): ours, PyTorch's, and the gap. */
export function totalsByOp(layers: LayerResult[]): Record<string, { oursMs: number; torchMs: number; speed: number }> {
  const totals: Record<string, { oursMs: number; torchMs: number; speed: number }> = {};
  for (const l of layers) {
    const t = (totals[l.op] ??= { oursMs: 0, torchMs: 0, speed: 0 });
    t.oursMs += l.count * l.oursMs;
    t.torchMs += l.count * l.torchMs;
    t.speed = t.torchMs / t.oursMs;
  }
  return totals;
}

export function parseConfigs(text: string): { batch: number; size: number }[] {
  return text.split(',').map((c) => {
    const m = /^(\d+)x(\d+)$/.exec(c.trim());
    const batch = m ? Number(m[1]) : NaN;
    const size = m ? Number(m[2]) : NaN;
    if (!m || batch < 1 || size < 32 || size % 32 !== 0) {
      throw new Error(`--configs: '${c}' is not BATCHxSIZE with a batch >= 1 and a size that is a multiple of 32`);
    }
    return { batch, size };
  });
}

const PEER = 'bench/peers/torch_peer.py';

/** The first of `python3` and Debian's own /usr/bin/python3 (which a pyenv shim may hide) with PyTorch. */
export function findPython(candidates = ['python3', '/usr/bin/python3']): string | null {
  return candidates.find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      configs: { type: 'string', default: '2x128,8x64' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      layers: { type: 'boolean', default: false },
      python: { type: 'string' },
    },
  });
  const configs = parseConfigs(values.configs);
  const steps = integer('steps', values.steps, 1);
  const warmup = integer('warmup', values.warmup, 0);
  const rounds = integer('rounds', values.rounds, 0);
  const threads = integer('threads', values.threads, 1);
  const log = (s: string) => process.stderr.write(`bench:torch: ${s}\n`);
  const python = values.python ?? findPython();
  if (!python) throw new Error('no python3 with PyTorch here (Debian: apt-get install python3-torch), or name one with --python');

  const results: ConfigResult[] = [];
  let adapter: string | undefined;
  let torchInfo: { torch?: string; threads?: number } = {};
  for (const { batch, size } of configs) {
    const common = ['--batch', String(batch), '--size', String(size), '--steps', String(steps), '--warmup', String(warmup)];
    const ours: StepRun[] = [];
    const torch: StepRun[] = [];
    for (let round = 0; round < rounds; round++) {
      log(`batch ${batch}, ${size}x${size}, round ${round + 1}/${rounds}: gpuseg, then PyTorch`);
      const a = await runScript<StepRun>('src/cli/main.ts', ['bench', 'train', ...common, '--json']);
      ours.push(a);
      const b = (await runJsonLines(python, [PEER, ...common, '--threads', String(threads)])).pop() as StepRun;
      torch.push(b);
      adapter = a.adapter;
      torchInfo = { torch: b.torch, threads: b.threads };
    }
    if (rounds > 0) results.push(compareConfig(batch, size, ours, torch));
  }

  const layers: { batch: number; size: number; layers: LayerResult[]; totals: ReturnType<typeof totalsByOp> }[] = [];
  if (values.layers) {
    for (const { batch, size } of configs) {
      log(`conv layers at batch ${batch}, ${size}x${size}: gpuseg, then PyTorch`);
      const ours = (await runJsonLines(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'kernels', '--batch', String(batch), '--size', String(size), '--only', 'conv2d', '--json'])) as KernelResult[];
      const distinct = [...new Map(ours.map((r) => [r.layer, { layer: r.layer, ...r.conv! }])).values()];
      const peer = (await runJsonLines(python, [PEER, '--layers', '-', '--threads', String(threads)], JSON.stringify(distinct))).pop() as { layers: TorchLayerRow[] };
      const joined = joinLayers(ours, peer.layers);
      layers.push({ batch, size, layers: joined, totals: totalsByOp(joined) });
    }
  }
  const out = { date: new Date().toISOString(), adapter, peer: { impl: 'torch', ...torchInfo }, steps, warmup, rounds, targets: TARGETS, configs: results, ...(values.layers ? { layers } : {}) };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:torch: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
