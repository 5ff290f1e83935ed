import { describe, expect, it } from 'vitest';
import { Tensor, scope } from '../../src/autograd/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { materialize } from '../../src/model/module.js';
import { encodeSafetensors, readSafetensors } from '../../src/model/safetensors.js';
import { exportStateDict, importStateDict } from '../../src/model/state.js';
import { INPUT_CHANNELS, UNET_PARAMETERS, Unet, torchParameterCount } from '../../src/model/unet.js';
import { packedBatch } from '../../src/train/batch.js';
import { segmentationLoss } from '../../src/train/losses.js';
import { recordTrainStep } from '../../src/train/step.js';
import { Adam } from '../../src/train/optimizer.js';
import { rng, uniform } from '../../src/util/random.js';
import { useGpu } from '../helpers.js';
import { float32Reference } from './float32-reference.js';

const ctx = useGpu();

/** Input size of the whole-network checks: the smallest the UNet takes (layer4 is 1x1). */
const S = 32;
/** Batch 3: layer4's batch norm then normalises 3 values per channel (1 would be degenerate). */
const N = 3;

function batch(seed: number) {
  const r = rng(seed);
  const input = uniform(r, N * S * S * INPUT_CHANNELS, -2, 2);
  for (let i = INPUT_CHANNELS - 1; i < input.length; i += INPUT_CHANNELS) input[i] = 0;
  // A blob of foreground in each sample.
  const target = new Float32Array(N * S * S);
  for (let n = 0; n < N; n++)
    for (let y = 8 + n; y < 20 + n; y++) for (let x = 10; x < 18 + 2 * n; x++) target[(n * S + y) * S + x] = 1;
  return { input, target };
}

describe('ResNet-34 UNet', () => {
  it('has 24,436,369 parameters under segmentation_models_pytorch names', () => {
    const m = new Unet();
    expect(torchParameterCount(m)).toBe(UNET_PARAMETERS);
    expect(torchParameterCount(m.encoder)).toBe(21_284_672);
    const names = m.namedParameters().map(([n]) => n);
    expect(names).toContain('encoder.conv1.weight');
    expect(names).toContain('encoder.layer1.0.bn1.weight');
    expect(names).toContain('encoder.layer4.2.conv2.weight');
    expect(names).toContain('encoder.layer2.0.downsample.0.weight');
    expect(names).toContain('decoder.blocks.0.conv1.0.weight');
    expect(names).toContain('decoder.blocks.4.conv2.1.bias');
    expect(names).toContain('segmentation_head.0.bias');
    expect(m.namedBuffers().map(([n]) => n)).toContain('encoder.layer1.0.bn1.running_mean');
  });

  it('exports PyTorch layouts with num_batches_tracked, and a file round trip gives bit-identical predictions', async () => {
    const a = new Unet();
    const storeA = materialize(a, ctx.be, rng(1));
    const b = new Unet();
    const storeB = materialize(b, ctx.be, rng(2));
    try {
      // One training-mode forward moves the running statistics and counts a batch.
      const { input } = batch(5);
      scope(() => a.forward(Tensor.from(ctx.be, input, [N, S, S, INPUT_CHANNELS])));
      const dict = await exportStateDict(a);
      expect(dict.get('encoder.conv1.weight')!.shape).toEqual([64, 3, 7, 7]);
      expect(dict.get('encoder.bn1.num_batches_tracked')!.dtype).toBe('I64');
      expect(dict.get('encoder.bn1.num_batches_tracked')!.data[0]).toBe(1n);
      expect(dict.size).toBe(140 + 92 + 46);
      importStateDict(b, readSafetensors(encodeSafetensors(dict)));
      a.setTraining(false);
      b.setTraining(false);
      const predict = (m: Unet) => scope(() => ({ p: m.forward(Tensor.from(ctx.be, input, [N, S, S, INPUT_CHANNELS])).toArray() })).p;
      const [pa, pb] = await Promise.all([predict(a), predict(b)]);
      expect(Buffer.from(pb.buffer).equals(Buffer.from(pa.buffer))).toBe(true);
      expect(() => importStateDict(b, new Map([...dict].filter(([k]) => k !== 'decoder.blocks.1.conv1.0.weight')), { source: 'x.safetensors' })).toThrow(
        /x.safetensors: tensor 'decoder.blocks.1.conv1.0.weight' is missing/,
      );
      // Weights that hold NaN or an infinity are refused at load, naming the tensor and the element.
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const t = dict.get('decoder.blocks.2.conv2.0.weight')!;
        const poisoned = new Float32Array(t.data as Float32Array);
        poisoned[7] = bad;
        const withBad = new Map(dict).set('decoder.blocks.2.conv2.0.weight', { ...t, data: poisoned });
        expect(() => importStateDict(b, withBad, { source: 'nan.safetensors' })).toThrow(
          new RegExp(`nan.safetensors: tensor 'decoder.blocks.2.conv2.0.weight' holds ${bad} \\(element 7\\)`),
        );
      }
    } finally {
      for (const s of [storeA, storeB]) {
        s.params.destroy();
        s.buffers.destroy();
      }
    }
  });

  it('forward and every parameter gradient agree between WebGPU and the CPU reference', async () => {
    const { input, target } = batch(7);
    const run = async (backend: Backend) => {
      const m = new Unet();
      const store = materialize(m, backend, rng(3));
      try {
        const loss = scope(() => {
          const x = Tensor.from(backend, input, [N, S, S, INPUT_CHANNELS]);
          const t = Tensor.from(backend, target, [N, S, S, 1]);
          const l = segmentationLoss(m.forward(x), t, Tensor.full(backend, [N], 1), 'bce');
          l.backward();
          return { v: l.toArray() };
        });
        const grads = new Map<string, Float64Array>();
        for (const [name, slot] of m.namedParameters()) {
          grads.set(name, await slot.t.grad!.toArray());
          slot.t.grad!.dispose();
        }
        return { loss: (await loss.v)[0]!, grads };
      } finally {
        store.params.destroy();
        store.buffers.destroy();
      }
    };
    const gpu = await run(ctx.be);
    const f64 = await run(ctx.cpu);
    const f32 = await run(float32Reference());
    // Tolerance: rounding every op's result to float32 (the float32-rounded reference) moves each
    // result by e32 from float64. The GPU also rounds inside each op, in sums of up to K = 512 * 9
    // terms, whose error grows like sqrt(K) roundings (a random walk): allow sqrt(K) e32, plus 1e-6
    // of the tensor's norm for tensors whose e32 is near zero. A wrong kernel is off by O(1).
    const C = Math.sqrt(512 * 9);
    const norm = (a: ArrayLike<number>, b?: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += (a[i]! - (b ? b[i]! : 0)) ** 2;
      return Math.sqrt(s);
    };
    expect(Math.abs(gpu.loss - f64.loss)).toBeLessThanOrEqual(C * Math.abs(f32.loss - f64.loss) + 1e-6 * Math.abs(f64.loss));
    let worst = { name: '', ratio: 0 };
    for (const [name, ref] of f64.grads) {
      const allowed = C * norm(f32.grads.get(name)!, ref) + 1e-6 * norm(ref);
      const ratio = norm(gpu.grads.get(name)!, ref) / allowed;
      if (ratio > worst.ratio) worst = { name, ratio };
    }
    expect(worst.ratio, `worst gradient ${worst.name}`).toBeLessThanOrEqual(1);
  });

  it('overfits one batch at 32x32 on the GPU', async () => {
    const m = new Unet();
    const store = materialize(m, ctx.be, rng(11));
    const opt = new Adam(store, m.namedParameters().map(([, s]) => s));
    const { input, target } = batch(9);
    const shots = packedBatch(input, target, S, 8);
    const baseline = { loss: 'bce' as const, nbr: false, lambdaBg: 0, lambdaFeat: 0, nbrLayer: 2 as const };
    /**
     * From about 0.5 the loss must fall below this in 8 steps of Adam at lr 3e-3 (on lavapipe: 0.494,
     * 0.378, 0.311, 0.241, 0.194, 0.159, 0.134, 0.113). Few steps: the test runs on SwiftShader too, where
     * a step of this batch takes about 10 s (its conv kernels are 20x slower than lavapipe's).
     */
    const TARGET_LOSS = 0.2;
    const STEPS = 8;
    const LR = 3e-3;
    const losses: number[] = [];
    try {
      for (let step = 0; step < STEPS; step++) {
        // The trainer's own step: forward, BCE, backward, Adam, the loss read back.
        losses.push((await recordTrainStep(m, opt, shots, baseline, LR, false))[0]!);
      }
    } finally {
      opt.destroy();
      store.params.destroy();
      store.buffers.destroy();
    }
    expect(losses[0]).toBeGreaterThan(0.3);
    expect(losses[losses.length - 1]).toBeLessThan(TARGET_LOSS);
  });
});
