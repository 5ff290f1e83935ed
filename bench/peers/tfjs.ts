// The peer benchmark of issue 6 on TensorFlow.js: the same ResNet-34 UNet (segmentation_models_pytorch
// `Unet("resnet34", classes=1)` layout, 24,436,369 parameters) written functionally with tfjs-core ops on
// tf.variable weights, NHWC, trained the way ours is (Adam at lr 1e-4, sigmoid BCE with logits, batch
// norm on batch statistics) and, to be fair to ours, reading the loss back to the host every step.
//
// Backends: 'webgpu' (tfjs-backend-webgpu on the Dawn instance our createInstance() makes, so on the
// same adapter ours picks) and 'cpu' (tfjs-backend-cpu, plain JavaScript).
//
//   node --import tsx bench/peers/tfjs.ts --backend webgpu --batch 2 --size 128 --steps 3 --json
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients itself (the @tensorflow/tfjs bundle imports them); the Node build of
// tfjs-layers carries the whole set and registers it, into the global registry, on import.
import '@tensorflow/tfjs-layers';
import { adapterFlags } from '../../src/gpu/adapter.js';
import { createInstance } from '../../src/gpu/dawn.js';
// The architecture's table, shared with ours so both build the same network (the parameter count is checked too).
import { DECODER_CHANNELS as DECODER, ENCODER_LAYERS as ENCODER, SKIP_CHANNELS as SKIPS, UNET_PARAMETERS } from '../../src/model/unet.js';
import { runIfMain } from '../script.js';

export type TfjsBackend = 'webgpu' | 'cpu';

export interface TfjsBenchOptions {
  backend: TfjsBackend;
  batch: number;
  size: number;
  /** Timed training steps (and at least INFER_MIN_RUNS timed inference runs). */
  steps: number;
  /** Untimed training steps first: tfjs compiles its shaders on first use (default 2, as ours). */
  warmup?: number;
}

export interface TfjsBenchResult {
  impl: 'tfjs';
  backend: string;
  adapter?: string;
  batch: number;
  size: number;
  /** Median wall time of a training step, loss read back. */
  stepMs: number;
  trainImagesPerSecond: number;
  /** Median wall time of a forward pass in eval mode (running statistics), output read back. */
  inferMs: number;
  inferImagesPerSecond: number;
  steps: number;
  parameters: number;
  finalLoss: number;
  /** WebGPU only: bytes tfjs' buffer manager holds (live and pooled) after the runs. */
  gpuBytesAllocated?: number;
}

const LEARNING_RATE = 1e-4;
// PyTorch's Adam and batch-norm constants, which ours uses too (tfjs' Adam would default to eps 1e-7).
const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;
/** As ours (src/measure/train.ts): inference is timed over at least this many runs. */
const INFER_MIN_RUNS = 3;
const DEFAULT_WARMUP = 2;
const RGB = 3;

type Var1 = tf.Variable<tf.Rank.R1>;
type Var4 = tf.Variable<tf.Rank.R4>;

interface BatchNorm {
  gamma: Var1;
  beta: Var1;
  runningMean: Var1;
  runningVar: Var1;
}

interface ConvBn {
  /** [k, k, cin, cout] (tfjs' HWIO). */
  w: Var4;
  bn: BatchNorm;
  stride: number;
  pad: number;
}

interface BasicBlock {
  conv1: ConvBn;
  conv2: ConvBn;
  downsample: ConvBn | null;
}

interface UnetWeights {
  stem: ConvBn;
  layers: BasicBlock[][];
  decoder: { conv1: ConvBn; conv2: ConvBn }[];
  headW: Var4;
  headB: Var1;
  trainable: tf.Variable[];
  all: tf.Variable[];
}

/** Batch statistics of one norm in a training forward, kept past the step's tidy for the running update. */
interface BatchStats {
  bn: BatchNorm;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  count: number;
}

interface ForwardMode {
  training: boolean;
  stats: BatchStats[];
}

/** Creates the weights: He-uniform convs (fan in), BN gamma 1 and beta 0, running mean 0 and var 1. */
function createUnet(): UnetWeights {
  const trainable: tf.Variable[] = [];
  const all: tf.Variable[] = [];
  // tfjs takes a seed of 0 for no seed.
  let seed = 1;
  const add = <R extends tf.Rank>(t: tf.Tensor<R>, train: boolean): tf.Variable<R> => {
    const v = tf.variable(t, train);
    t.dispose();
    all.push(v);
    if (train) trainable.push(v);
    return v;
  };
  const convWeight = (k: number, cin: number, cout: number): Var4 => {
    const bound = Math.sqrt(6 / (k * k * cin));
    return add(tf.randomUniform([k, k, cin, cout], -bound, bound, 'float32', seed++), true);
  };
  const batchNorm = (c: number): BatchNorm => ({
    gamma: add(tf.ones([c]) as tf.Tensor1D, true),
    beta: add(tf.zeros([c]) as tf.Tensor1D, true),
    runningMean: add(tf.zeros([c]) as tf.Tensor1D, false),
    runningVar: add(tf.ones([c]) as tf.Tensor1D, false),
  });
  const convBn = (k: number, cin: number, cout: number, stride = 1): ConvBn => ({
    w: convWeight(k, cin, cout),
    bn: batchNorm(cout),
    stride,
    pad: (k - 1) / 2,
  });

  const stem = convBn(7, RGB, 64, 2);
  let cin = 64;
  const layers = ENCODER.map(({ channels, blocks }, li) =>
    Array.from({ length: blocks }, (_, b): BasicBlock => {
      const stride = li > 0 && b === 0 ? 2 : 1;
      const block = {
        conv1: convBn(3, cin, channels, stride),
        conv2: convBn(3, channels, channels),
        downsample: stride !== 1 || cin !== channels ? convBn(1, cin, channels, stride) : null,
      };
      cin = channels;
      return block;
    }),
  );
  const decoder = DECODER.map((cout, i) => {
    const block = { conv1: convBn(3, cin + SKIPS[i]!, cout), conv2: convBn(3, cout, cout) };
    cin = cout;
    return block;
  });
  const headW = convWeight(3, cin, 1);
  const headB = add(tf.zeros([1]) as tf.Tensor1D, true);
  return { stem, layers, decoder, headW, headB, trainable, all };
}

function batchNorm(x: tf.Tensor4D, bn: BatchNorm, mode: ForwardMode): tf.Tensor4D {
  if (!mode.training) return tf.batchNorm<tf.Rank.R4>(x, bn.runningMean, bn.runningVar, bn.beta, bn.gamma, BN_EPS);
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  // Kept: the gradient's tidy would dispose them before the running statistics are updated.
  mode.stats.push({ bn, mean: tf.keep(mean as tf.Tensor1D), variance: tf.keep(variance as tf.Tensor1D), count: x.size / x.shape[3] });
  return tf.batchNorm<tf.Rank.R4>(x, mean as tf.Tensor1D, variance as tf.Tensor1D, bn.beta, bn.gamma, BN_EPS);
}

function convBn(x: tf.Tensor4D, c: ConvBn, mode: ForwardMode): tf.Tensor4D {
  return batchNorm(tf.conv2d(x, c.w, c.stride, c.pad), c.bn, mode);
}

function basicBlock(x: tf.Tensor4D, b: BasicBlock, mode: ForwardMode): tf.Tensor4D {
  const h = tf.relu(convBn(x, b.conv1, mode));
  const identity = b.downsample ? convBn(x, b.downsample, mode) : x;
  return tf.relu(tf.add<tf.Tensor4D>(convBn(h, b.conv2, mode), identity));
}

/** x: [n, s, s, 3]; returns logits [n, s, s, 1]. */
function forward(net: UnetWeights, x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
  const stem = tf.relu(convBn(x, net.stem, mode));
  const features = [stem];
  let h = tf.maxPool(stem, 3, 2, 1);
  for (const layer of net.layers) {
    for (const block of layer) h = basicBlock(h, block, mode);
    features.push(h);
  }
  const skips = features.slice(0, -1).reverse();
  net.decoder.forEach((block, i) => {
    // Nearest 2x without half-pixel centres picks source floor(i / 2), as PyTorch's 'nearest'.
    let u = tf.image.resizeNearestNeighbor(h, [h.shape[1] * 2, h.shape[2] * 2]);
    const skip = skips[i];
    if (skip) u = tf.concat([u, skip], 3);
    h = tf.relu(convBn(tf.relu(convBn(u, block.conv1, mode)), block.conv2, mode));
  });
  return tf.add<tf.Tensor4D>(tf.conv2d(h, net.headW, 1, 1), net.headB);
}

/** running = (1 - m) running + m batch, with the unbiased variance as PyTorch keeps it. */
function updateRunningStats(stats: BatchStats[]): void {
  tf.tidy(() => {
    for (const s of stats) {
      // One value per channel (batch 1 at 32x32 reaches layer4 at 1x1) has no unbiased variance; PyTorch
      // refuses that case, we keep the biased one rather than store an infinity.
      const unbiased = s.count > 1 ? s.count / (s.count - 1) : 1;
      s.bn.runningMean.assign(tf.add(tf.mul(s.bn.runningMean, 1 - BN_MOMENTUM), tf.mul(s.mean, BN_MOMENTUM)));
      s.bn.runningVar.assign(tf.add(tf.mul(s.bn.runningVar, 1 - BN_MOMENTUM), tf.mul(s.variance, BN_MOMENTUM * unbiased)));
    }
  });
  for (const s of stats) tf.dispose([s.mean, s.variance]);
}

/** Same synthetic batch as ours (src/measure/train.ts): uniform inputs in [-2, 2], a striped mask. */
function syntheticBatch(batch: number, size: number): { input: Float32Array; target: Float32Array } {
  let state = 1;
  const next = () => {
    // A small LCG: the data only has to be deterministic and spread, not good random numbers.
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const pixels = batch * size * size;
  const input = Float32Array.from({ length: pixels * RGB }, () => next() * 4 - 2);
  const target = Float32Array.from({ length: pixels }, (_, i) => ((i % size) * 4 < size ? 1 : 0));
  return { input, target };
}

let webgpuAdapter: Promise<string> | null = null;

/**
 * Registers tfjs' WebGPU backend on our Dawn instance. tfjs registers the backend at import only if
 * navigator.gpu exists (Node 20 has no navigator), so the module is imported after it is set.
 */
function prepareWebGpu(): Promise<string> {
  webgpuAdapter ??= (async () => {
    const gpu = await createInstance(await adapterFlags(process.env.GPUSEG_ADAPTER || undefined));
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav) nav.gpu ??= gpu;
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
    // tfjs asks for the high-performance adapter; the same request on the same instance names it.
    const exposed = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu ?? gpu;
    const info = (await exposed.requestAdapter({ powerPreference: 'high-performance' }))?.info;
    return info ? info.description || info.device || info.vendor : 'unknown';
  })();
  return webgpuAdapter;
}

async function useBackend(backend: TfjsBackend): Promise<string | undefined> {
  let adapter: string | undefined;
  if (backend === 'webgpu') adapter = await prepareWebGpu();
  else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend '${backend}' failed to initialise`);
  await tf.ready();
  return adapter;
}

export async function benchTfjs(o: TfjsBenchOptions): Promise<TfjsBenchResult> {
  if (o.size % 32 !== 0) throw new Error(`tfjs bench: the size must be a multiple of 32 (the UNet halves it five times), got ${o.size}`);
  if (!(o.batch >= 1 && o.steps >= 1)) throw new Error(`tfjs bench: batch and steps must be positive, got ${o.batch} and ${o.steps}`);
  const adapter = await useBackend(o.backend);
  const net = createUnet();
  const parameters = net.trainable.reduce((n, v) => n + v.size, 0);
  if (parameters !== UNET_PARAMETERS) throw new Error(`tfjs UNet: ${parameters} parameters, expected ${UNET_PARAMETERS}`);
  const optimizer = tf.train.adam(LEARNING_RATE, ADAM.beta1, ADAM.beta2, ADAM.eps);
  const { input, target } = syntheticBatch(o.batch, o.size);
  const shape: [number, number, number, number] = [o.batch, o.size, o.size, RGB];

  // Host arrays are uploaded inside the timed step, as ours does.
  const trainStep = async (): Promise<number> => {
    const mode: ForwardMode = { training: true, stats: [] };
    const loss = optimizer.minimize(
      () => {
        const x = tf.tensor4d(input, shape);
        const t = tf.tensor4d(target, [o.batch, o.size, o.size, 1]);
        return tf.losses.sigmoidCrossEntropy(t, forward(net, x, mode)) as tf.Scalar;
      },
      true,
      net.trainable,
    )!;
    updateRunningStats(mode.stats);
    const value = (await loss.data())[0]!;
    loss.dispose();
    return value;
  };
  const infer = async (): Promise<void> => {
    const y = tf.tidy(() => forward(net, tf.tensor4d(input, shape), { training: false, stats: [] }));
    await y.data();
    y.dispose();
  };

  try {
    let finalLoss = NaN;
    for (let i = 0; i < (o.warmup ?? DEFAULT_WARMUP); i++) finalLoss = await trainStep();
    const stepTimes: number[] = [];
    for (let i = 0; i < o.steps; i++) {
      const t0 = performance.now();
      finalLoss = await trainStep();
      stepTimes.push(performance.now() - t0);
    }
    if ((o.warmup ?? DEFAULT_WARMUP) > 0) await infer();
    const inferTimes: number[] = [];
    for (let i = 0; i < Math.max(INFER_MIN_RUNS, o.steps); i++) {
      const t0 = performance.now();
      await infer();
      inferTimes.push(performance.now() - t0);
    }
    const memory = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
    const stepMs = median(stepTimes);
    const inferMs = median(inferTimes);
    return {
      impl: 'tfjs',
      backend: o.backend,
      ...(adapter ? { adapter } : {}),
      batch: o.batch,
      size: o.size,
      stepMs,
      trainImagesPerSecond: (1000 * o.batch) / stepMs,
      inferMs,
      inferImagesPerSecond: (1000 * o.batch) / inferMs,
      steps: o.steps,
      parameters,
      finalLoss,
      ...(memory.numBytesAllocatedInGPU !== undefined ? { gpuBytesAllocated: memory.numBytesAllocatedInGPU } : {}),
    };
  } finally {
    optimizer.dispose();
    tf.dispose(net.all);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'webgpu' },
      batch: { type: 'string', default: '2' },
      size: { type: 'string', default: '128' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: String(DEFAULT_WARMUP) },
      json: { type: 'boolean', default: false },
    },
  });
  const backend = values.backend;
  if (backend !== 'webgpu' && backend !== 'cpu') throw new Error(`--backend must be webgpu or cpu, got '${backend}'`);
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  const r = await benchTfjs({
    backend,
    batch: int('batch', values.batch, 1),
    size: int('size', values.size, 32),
    steps: int('steps', values.steps, 1),
    warmup: int('warmup', values.warmup, 0),
  });
  if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `tfjs ${r.backend}${r.adapter ? ` on ${r.adapter}` : ''}: ResNet-34 UNet, batch ${r.batch}, ${r.size}x${r.size}\n` +
        `train step ${r.stepMs.toFixed(1)} ms (${r.trainImagesPerSecond.toFixed(2)} images/s), ` +
        `inference ${r.inferMs.toFixed(1)} ms (${r.inferImagesPerSecond.toFixed(2)} images/s)\n`,
    );
}

runIfMain(import.meta.url, main);
