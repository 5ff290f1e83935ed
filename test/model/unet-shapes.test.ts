// The distinct layer shapes of the UNet, which the kernel benchmarks and the tuner run (no device needed),
// and a check that they are what the model runs.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArgsOn, Kernel, KernelDef } from '../../src/backend/kernel.js';
import * as K from '../../src/backend/kernels.js';
import { WebGpuBackend } from '../../src/backend/webgpu/index.js';
import type { BufferRef } from '../../src/gpu/gpu.js';
import { materialize } from '../../src/model/module.js';
import { unetShapes } from '../../src/model/unet-shapes.js';
import { Unet } from '../../src/model/unet.js';
import { type BatchSources, batchLayout, makeBatch } from '../../src/train/batch.js';
import { LAYER_STRIDE, TRAIN_DEFAULTS } from '../../src/run/options.js';
import { Adam } from '../../src/train/optimizer.js';
import { recordTrainStep } from '../../src/train/step.js';
import { rng } from '../../src/util/random.js';
import { LAVAPIPE, recordingGpu } from '../recording-gpu.js';

describe('UNet layer shapes', () => {
  it('follow the ResNet-34 UNet at 64x64', () => {
    const s = unetShapes(2, 64);
    const stem = s.convs[0]!.g;
    expect([stem.kh, stem.stride, stem.oh, stem.cout]).toEqual([7, 2, 32, 64]);
    expect([s.pool.oh, s.pool.c]).toEqual([16, 64]);
    // Deepest feature: 512 channels at 1/32 of the input.
    expect(s.upsamples[0]).toEqual({ n: 2, h: 2, w: 2, c: 512 });
    expect(s.concats.map((c) => [c.ca, c.cb, c.g.h])).toEqual([[512, 256, 4], [256, 128, 8], [128, 64, 16], [64, 64, 32]]);
    const head = s.convs[s.convs.length - 1]!.g;
    expect([head.cin, head.cout, head.hasBias, head.oh]).toEqual([16, 1, true, 64]);
    expect(() => unetShapes(1, 48)).toThrow(/multiple of 32/);
  });
});

// unetShapes() is written by hand for the tuner and the benchmarks; this checks it against what the
// model itself runs: every conv, batch norm, pool, upsample and concat geometry of a real training step
// (forward, losses, backward) and of an inference pass, recorded on a Gpu that runs nothing.
describe('UNet layer shapes against the model', () => {
  beforeAll(async () => {
    Object.assign(globalThis, (await import('webgpu')).globals);
  });

  it.each([
    [2, 64],
    [3, 96],
  ])('batch %i, size %i: the hand-written list is exactly what forward and backward dispatch', async (n, s) => {
    const { gpu } = recordingGpu(LAVAPIPE);
    const be = new WebGpuBackend(gpu);
    const seen = { convs: new Set<string>(), norms: new Set<string>(), pool: new Set<string>(), upsamples: new Set<string>(), concats: new Set<string>() };
    const key = (v: unknown) => JSON.stringify(v);
    // Each geometry the model hands the backend, recorded on the way to the real kernel.
    const watchers = new Map<string, (args: readonly unknown[]) => void>();
    const real = be.dispatch;
    Object.assign(be, { dispatch: (k: KernelDef, args: readonly unknown[]) => (watchers.get(k.id)?.(args), real(k, args)) });
    const watch = <A extends readonly unknown[], R>(k: Kernel<A, R>, record: (...args: ArgsOn<A, BufferRef>) => void) => {
      watchers.set(k.id, (args) => record(...(args as ArgsOn<A, BufferRef>)));
    };
    const forwardConvs = new Map<string, number>();
    watch(K.conv2d, (...a) => {
      seen.convs.add(key(a[3]));
      forwardConvs.set(key(a[3]), (forwardConvs.get(key(a[3])) ?? 0) + 1);
    });
    watch(K.conv2dInputGrad, (...a) => seen.convs.add(key(a[2])));
    watch(K.conv2dWeightGrad, (...a) => seen.convs.add(key(a[2])));
    watch(K.batchNormTrain, (...a) => seen.norms.add(key({ n: a[6].n, h: a[6].h, w: a[6].w, c: a[6].c })));
    watch(K.maxPool2d, (...a) => seen.pool.add(key(a[1])));
    watch(K.upsample2x, (...a) => seen.upsamples.add(key(a[1])));
    // The step's loss terms are packed into one vector by 1x1 concats: not a layer of the model.
    watch(K.concatChannels, (...a) => {
      if (a[2].n === n) seen.concats.add(key({ g: a[2], ca: a[3], cb: a[4] }));
    });
    const model = new Unet();
    const storage = materialize(model, be, rng(0));
    const opt = new Adam(storage, model.namedParameters().map(([, slot]) => slot));
    const pixels = s * s;
    const r = rng(1);
    const image = new Float32Array(pixels * 3).fill(0.5);
    const mask = new Uint8Array(pixels).fill(1, 0, pixels >> 2);
    const normal = new Uint8Array(pixels * 3).fill(128);
    const sources: BatchSources = { shots: [{ image, mask }], normalCount: 1, normal: async () => normal };
    const batch = await makeBatch({ size: s, layout: batchLayout(n, 0, false), cellStride: LAYER_STRIDE[TRAIN_DEFAULTS.nbrLayer], paste: TRAIN_DEFAULTS.paste }, sources, r);
    await recordTrainStep(model, opt, batch, { loss: 'bce', nbr: false, lambdaBg: 0, lambdaFeat: 0, nbrLayer: TRAIN_DEFAULTS.nbrLayer }, 1e-4, false);

    const shapes = unetShapes(n, s);
    const sorted = (set: Set<string>) => [...set].sort();
    expect(sorted(seen.convs)).toEqual(sorted(new Set(shapes.convs.map((c) => key(c.g)))));
    // How often each geometry occurs: what the side-by-side benchmark weighs each layer's time by.
    expect(Object.fromEntries(forwardConvs)).toEqual(Object.fromEntries(shapes.convs.map((c) => [key(c.g), c.count])));
    expect(shapes.convs.reduce((t, c) => t + c.count, 0)).toBe(1 + 3 + 2 * (3 + 4 + 6 + 3) + 2 * 5 + 1); // stem, downsamples, blocks, decoder, head
    expect(sorted(seen.norms)).toEqual(sorted(new Set(shapes.norms.map(key))));
    expect(sorted(seen.pool)).toEqual([key(shapes.pool)]);
    expect(sorted(seen.upsamples)).toEqual(sorted(new Set(shapes.upsamples.map(key))));
    expect(sorted(seen.concats)).toEqual(sorted(new Set(shapes.concats.map(key))));
  });
});
