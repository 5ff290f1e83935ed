// The ONNX export against gpuseg's own inference: ONNX Runtime's CPU execution provider (default
// intra-op threads) on the exported graph, with batch norm folded into the convolutions and with
// BatchNormalization nodes (each with ORT's graph optimisations on, its default, and off), against `predict()` of src/evaluate/model-io.ts on the adapter gpuseg picks
// (lavapipe on a machine without a GPU), both at batch 1, one size x size image, after warm-up. Each
// side's time is the whole call a user makes: input in, probabilities out. Prints JSON.
//
//   node --import tsx bench/onnx.ts [--size 256] [--runs 10] [--gpuseg-runs 5] [--weights RUN/last.safetensors]
//
// Without --weights the UNet's own initialisation is used (speed does not depend on the values).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { type BatchNormMode, buildUnetOnnx } from '../src/export/onnx-unet.js';
import { encodeOnnxModel } from '../src/export/onnx-proto.js';
import { materialize } from '../src/model/module.js';
import { loadSafetensors, saveSafetensors } from '../src/model/safetensors.js';
import { exportStateDict } from '../src/model/state.js';
import { Unet } from '../src/model/unet.js';
import { loadModel, predict } from '../src/evaluate/model-io.js';
import { rng, uniform } from '../src/util/random.js';
import { runIfMain } from './script.js';
import { setHost } from '../src/gpu/host.js';
import { nodeHost } from '../src/gpu/node-host.js';

setHost(nodeHost);

export interface OnnxBenchOptions {
  size: number;
  /** Timed ONNX Runtime runs per graph (after WARMUP_RUNS). */
  runs: number;
  /** Timed gpuseg predict() calls (slower on lavapipe, so fewer). */
  gpusegRuns: number;
  /** A .safetensors file with the UNet's names; null: a freshly initialised UNet. */
  weights: string | null;
}

export interface TimedRuns {
  medianMs: number;
  minMs: number;
  runs: number;
}

export interface OrtGraphResult extends TimedRuns {
  batchNorm: BatchNormMode;
  graphOptimizationLevel: OptimizationLevel;
  bytes: number;
  nodes: number;
  sessionCreateMs: number;
}

export interface OnnxBenchResult {
  bench: 'onnx';
  size: number;
  batch: 1;
  onnxruntime: { version: string; executionProvider: 'cpu'; intraOpNumThreads: 'default'; graphs: OrtGraphResult[] };
  gpuseg: TimedRuns & { adapter: string };
  /** Folded graph against gpuseg predict on the same image. */
  maxAbsProbabilityDifference: number;
}

/** Untimed runs first: ORT plans its memory and gpuseg builds its pipelines on the first run. */
const WARMUP_RUNS = 2;

async function timeRuns(runs: number, run: () => Promise<unknown>): Promise<TimedRuns> {
  for (let i = 0; i < WARMUP_RUNS; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const medianMs = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { medianMs, minMs: times[0]!, runs };
}

/** HWC RGB -> NCHW. */
function toNchw(rgb: Float32Array, size: number): Float32Array {
  const pixels = size * size;
  const out = new Float32Array(3 * pixels);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[c * pixels + p] = rgb[p * 3 + c]!;
  return out;
}

/** The UNet's own initialisation as a state dict file (what a run's last.safetensors holds). */
async function initialWeights(dir: string): Promise<string> {
  const model = new Unet<Float64Array>();
  const backend = new CpuBackend();
  materialize(model, backend, rng(0));
  model.setTraining(false);
  const path = join(dir, 'init.safetensors');
  await saveSafetensors(path, await exportStateDict(model));
  return path;
}

/** ORT's default ('all': it fuses Conv + BatchNormalization itself) and none, to see what folding saves a runtime that does not. */
const OPTIMIZATION_LEVELS = ['all', 'disabled'] as const;
type OptimizationLevel = (typeof OPTIMIZATION_LEVELS)[number];

async function benchGraph(weights: string, batchNorm: BatchNormMode, o: OnnxBenchOptions, image: Float32Array): Promise<{ results: OrtGraphResult[]; probability: Float32Array }> {
  const { model, nodes } = buildUnetOnnx(await loadSafetensors(weights), weights, { size: o.size, dynamicBatch: false, opset: 17, batchNorm });
  const bytes = encodeOnnxModel(model);
  const feeds = { image: new ort.Tensor('float32', toNchw(image, o.size), [1, 3, o.size, o.size]) };
  const results: OrtGraphResult[] = [];
  let probability: Float32Array = new Float32Array(0);
  for (const graphOptimizationLevel of OPTIMIZATION_LEVELS) {
    const created = performance.now();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel });
    const sessionCreateMs = performance.now() - created;
    const timed = await timeRuns(o.runs, async () => {
      probability = (await session.run(feeds)).probability!.data as Float32Array;
    });
    await session.release();
    results.push({ batchNorm, graphOptimizationLevel, bytes: bytes.byteLength, nodes, sessionCreateMs, ...timed });
  }
  return { results, probability };
}

export async function benchOnnx(o: OnnxBenchOptions): Promise<OnnxBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-bench-onnx-'));
  try {
    const weights = o.weights ?? (await initialWeights(dir));
    const image = uniform(rng(1), o.size * o.size * 3, 0, 1);
    const folded = await benchGraph(weights, 'fold', o, image);
    const withNodes = await benchGraph(weights, 'nodes', o, image);

    const loaded = await loadModel(weights, { size: o.size });
    let ours: Float32Array = new Float32Array(0);
    let gpuseg: OnnxBenchResult['gpuseg'];
    try {
      const timed = await timeRuns(o.gpusegRuns, async () => {
        [ours] = (await predict(loaded, [image])) as [Float32Array];
      });
      gpuseg = { adapter: loaded.device.description, ...timed };
    } finally {
      loaded.close();
    }
    let difference = 0;
    for (let i = 0; i < ours.length; i++) difference = Math.max(difference, Math.abs(ours[i]! - folded.probability[i]!));
    return {
      bench: 'onnx',
      size: o.size,
      batch: 1,
      onnxruntime: { version: ort.env.versions.node ?? ort.env.versions.common, executionProvider: 'cpu', intraOpNumThreads: 'default', graphs: [...folded.results, ...withNodes.results] },
      gpuseg,
      maxAbsProbabilityDifference: difference,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { size: { type: 'string', default: '256' }, runs: { type: 'string', default: '10' }, 'gpuseg-runs': { type: 'string', default: '5' }, weights: { type: 'string' } },
  });
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  const size = int('size', values.size, 32);
  if (size % 32 !== 0) throw new Error(`--size must be a multiple of 32, got ${size}`);
  const r = await benchOnnx({ size, runs: int('runs', values.runs, 1), gpusegRuns: int('gpuseg-runs', values['gpuseg-runs'], 1), weights: values.weights ?? null });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

runIfMain(import.meta.url, main);
