// `gpuseg export RUN --onnx FILE` end to end: train a tiny run at 64x64 through the CLI, export it, load
// the file in ONNX Runtime (CPU; creating the session runs ORT's own graph checks) and compare its
// probabilities with gpuseg's own predict on the same images. A second run with batch-norm statistics
// drawn at random checks the folding (and the BatchNormalization-node variant) where a 2-step run's
// gamma ~ 1 and beta ~ 0 would hide a swapped term.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImage } from '../../src/data/image.js';
import { exportOnnx } from '../../src/export/onnx.js';
import { decodeOnnxModel } from '../../src/export/onnx-proto.js';
import { loadSafetensors, saveSafetensors } from '../../src/model/safetensors.js';
import { predictLogits } from '../../src/evaluate/inference.js';
import { loadModel, predict } from '../../src/evaluate/model-io.js';
import { rng, uniform } from '../../src/util/random.js';
import { gpuseg } from '../cli/gpuseg.js';

const SIZE = 64;
/** The acceptance bound on probabilities: both sides compute in float32, in different orders. */
const PROBABILITY_TOLERANCE = 1e-4;

/** HWC RGB -> NCHW, one image after another. */
function toNchw(images: Float32Array[], size: number): Float32Array {
  const pixels = size * size;
  const out = new Float32Array(images.length * 3 * pixels);
  images.forEach((im, n) => {
    for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[(n * 3 + c) * pixels + p] = im[p * 3 + c]!;
  });
  return out;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

interface OrtOutputs {
  probability: Float32Array[];
  logit: Float32Array[];
}

/** Runs `images` through the ONNX file in batches of `batch`; per image outputs, size x size each. */
async function runOrt(file: string, images: Float32Array[], batch: number): Promise<OrtOutputs> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
  const pixels = SIZE * SIZE;
  const out: OrtOutputs = { probability: [], logit: [] };
  try {
    expect(session.inputNames).toEqual(['image']);
    expect(session.outputNames).toEqual(['probability', 'logit']);
    for (let start = 0; start < images.length; start += batch) {
      const chunk = images.slice(start, start + batch);
      const result = await session.run({ image: new ort.Tensor('float32', toNchw(chunk, SIZE), [chunk.length, 3, SIZE, SIZE]) });
      for (const name of ['probability', 'logit'] as const) {
        const t = result[name]!;
        expect(t.dims).toEqual([chunk.length, 1, SIZE, SIZE]);
        const data = t.data as Float32Array;
        for (let i = 0; i < chunk.length; i++) out[name].push(data.slice(i * pixels, (i + 1) * pixels));
      }
    }
  } finally {
    await session.release();
  }
  return out;
}

/** gpuseg's probabilities (predict, as `gpuseg predict` runs it) and logits for the same images. */
async function runGpuseg(run: string, images: Float32Array[]): Promise<OrtOutputs> {
  const loaded = await loadModel(run);
  try {
    const probability = await predict(loaded, images);
    const logit = await predictLogits(loaded.model, loaded.device.backend, images, loaded.size);
    return { probability, logit };
  } finally {
    loaded.close();
  }
}

function expectSameOutputs(onnx: OrtOutputs, ours: OrtOutputs, what: string): { probability: number; logit: number } {
  const probability = Math.max(...onnx.probability.map((p, i) => maxAbsDifference(p, ours.probability[i]!)));
  const logit = Math.max(...onnx.logit.map((l, i) => maxAbsDifference(l, ours.logit[i]!)));
  const logitScale = Math.max(1, ...ours.logit.map((l) => Math.max(...l.map(Math.abs))));
  expect(probability, `${what}: max |probability difference|`).toBeLessThanOrEqual(PROBABILITY_TOLERANCE);
  expect(logit / logitScale, `${what}: max |logit difference| / max(1, |logit|)`).toBeLessThanOrEqual(PROBABILITY_TOLERANCE);
  return { probability, logit };
}

describe('gpuseg export --onnx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuseg-onnx-'));
  const data = join(dir, 'data');
  const run = join(dir, 'run');
  let images: Float32Array[] = [];
  let ours: OrtOutputs;
  let single: OrtOutputs;

  beforeAll(async () => {
    let r = gpuseg(['synth', data, '--size', String(SIZE), '--categories', 'fabric', '--train-good', '3', '--test-good', '1', '--per-type', '2']);
    expect(r.status, r.stderr).toBe(0);
    const category = join(data, 'fabric');
    r = gpuseg(['train', '--data', category, '--out', run, '--size', String(SIZE), '--batch', '2', '--steps', '2', '--no-nbr', '--no-crop-paste', '--no-eval', '--validate-every', '0']);
    expect(r.status, r.stderr).toBe(0);
    const test = join(category, 'test');
    const files = ['good/000.png', 'hole/000.png', 'scratch/001.png'].map((f) => join(test, f));
    for (const f of files) expect(existsSync(f), f).toBe(true);
    images = await Promise.all(files.map((f) => readImage(f, SIZE)));
    ours = await runGpuseg(run, images);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports the trained run; ONNX Runtime loads it and matches gpuseg predict to 1e-4', async () => {
    const file = join(dir, 'out', 'unet.onnx');
    const r = gpuseg(['export', run, '--onnx', file, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout).onnx;
    expect(summary).toMatchObject({ file, size: SIZE, batch: 1, opset: 17, irVersion: 8, input: 'image', outputs: ['probability', 'logit'], batchNormFolded: true });
    expect(summary.bytes).toBe(readFileSync(file).byteLength);
    expect(readdirSync(join(dir, 'out'))).toEqual(['unet.onnx']);
    // The run's decision threshold travels in the file's metadata_props (read from the proto: ONNX
    // Runtime's InferenceSession has no metadata API in every version).
    const stored = JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8')).threshold;
    expect(decodeOnnxModel(readFileSync(file)).metadata_props).toContainEqual({ key: 'gpuseg.threshold', value: String(stored) });
    expect(summary.threshold).toEqual({ value: stored, source: 'threshold.json' });
    single = await runOrt(file, images, 1);
    const d = expectSameOutputs(single, ours, 'trained run');
    process.stdout.write(`onnx vs gpuseg predict at ${SIZE}x${SIZE}: max |dp| ${d.probability.toExponential(2)}, max |dlogit| ${d.logit.toExponential(2)}\n`);
  });

  it('--dynamic-batch: a symbolic batch dimension; batch 2 gives the same per-image results', async () => {
    const file = join(dir, 'dynamic.onnx');
    const r = gpuseg(['export', run, '--onnx', file, '--dynamic-batch', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).onnx.batch).toBe('batch');
    const graph = decodeOnnxModel(readFileSync(file)).graph;
    expect(graph.input[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 3 }, { dim_value: SIZE }, { dim_value: SIZE }]);
    const batched = await runOrt(file, images, 2);
    expect(batched.probability.length).toBe(images.length);
    for (const [i, p] of batched.probability.entries()) expect(maxAbsDifference(p, single.probability[i]!), `image ${i}`).toBeLessThanOrEqual(1e-5);
    expectSameOutputs(batched, ours, 'dynamic batch');
  });

  it('folds batch norm (and emits BatchNormalization nodes) exactly, with random running statistics', async () => {
    const perturbed = join(dir, 'perturbed');
    mkdirSync(perturbed);
    copyFileSync(join(run, 'config.json'), join(perturbed, 'config.json'));
    const tensors = await loadSafetensors(join(run, 'last.safetensors'));
    const r = rng(7);
    // Mild ranges: 36 batch norms in a row must not push the logits into the sigmoid's flat tails.
    const ranges: Record<string, [number, number]> = { weight: [0.8, 1.2], bias: [-0.1, 0.1], running_mean: [-0.1, 0.1], running_var: [0.8, 1.25] };
    for (const [name, t] of tensors) {
      const bn = /\.(bn\d|downsample\.1|conv\d\.1)\.(weight|bias|running_mean|running_var)$/.exec(name);
      if (bn) t.data = uniform(r, t.data.length, ...ranges[bn[2]!]!);
    }
    await saveSafetensors(join(perturbed, 'last.safetensors'), tensors);
    const expected = await runGpuseg(perturbed, images);
    // The two ends of the opsets offered, one for each batch-norm form.
    for (const [batchNorm, opset] of [['fold', 13], ['nodes', 23]] as const) {
      const file = join(dir, `perturbed-${batchNorm}.onnx`);
      const summary = await exportOnnx(perturbed, file, { dynamicBatch: false, opset, batchNorm });
      expect(summary.batchNormFolded).toBe(batchNorm === 'fold');
      const d = expectSameOutputs(await runOrt(file, images, 1), expected, `random batch norm, ${batchNorm}`);
      process.stdout.write(`random batch norm (${batchNorm}, opset ${opset}): max |dp| ${d.probability.toExponential(2)}, max |dlogit| ${d.logit.toExponential(2)}\n`);
    }
  });

  it('bad input: one line naming the problem, exit 2, nothing written', () => {
    const file = join(dir, 'bad', 'x.onnx');
    const noWeights = join(dir, 'no-weights');
    mkdirSync(noWeights);
    copyFileSync(join(run, 'config.json'), join(noWeights, 'config.json'));
    const cases: [string[], RegExp][] = [
      [[run, '--onnx', file, '--opset', '12'], /^gpuseg: --opset must be from 13 to \d+ .*got 12$/],
      [[run, '--onnx', file, '--size', '48'], /^gpuseg: --size must be a multiple of 32 .*got 48$/],
      [[join(dir, 'no-such-run'), '--onnx', file], /^gpuseg: .*no-such-run: no such run folder$/],
      [[data, '--onnx', file], /^gpuseg: .*config\.json: not found/],
      [[noWeights, '--onnx', file], /^gpuseg: .*no-weights\/last\.safetensors: not found/],
    ];
    for (const [args, message] of cases) {
      const r = gpuseg(['export', ...args]);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trimEnd(), args.join(' ')).toMatch(message);
    }
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });
});
