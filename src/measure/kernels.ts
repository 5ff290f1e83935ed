// `gpuseg bench kernels`: every kernel on every distinct layer shape of the ResNet-34 UNet at batch n
// and input size s. One result per op and shape: median time and GFLOP/s (compute-bound ops) or GB/s
// (memory-bound ops, counting each tensor read or written once). The conv kernels come from the list
// of tuned kernels (through src/tune/) and run the variants `tuning` (the adapter's tuning file)
// chooses, as training does.
import type { BnFuse } from '../core/types.js';
import type { Conv2dGeometry, SpatialGeometry } from '../core/geometry.js';
import { WebGpuBackend } from '../backend/webgpu/index.js';
import { Arena } from '../gpu/arena.js';
import type { BufferRef, Gpu } from '../gpu/gpu.js';
import type { TuningTable } from '../gpu/tuning.js';
import { CONV_KERNELS, recordConv } from '../tune/index.js';
import { rng, uniform } from '../util/random.js';
import { type TimingOptions, timeGpu } from './timing.js';
import { unetShapes } from '../model/unet-shapes.js';
import { UNET_PARAMETERS } from '../model/unet.js';
import * as K from '../backend/kernels.js';

export interface KernelResult {
  op: string;
  layer: string;
  /** The shapes, as text: "n x h x w x c" inputs and the kernel where it has one. */
  shape: string;
  medianMs: number;
  gflops?: number;
  gbps?: number;
  samples: number;
  /** Conv kernels: the layer's geometry (NHWC input, HWIO kernel), for peers that time the same layer. */
  conv?: ConvShape;
  /** Conv kernels: how many convs of the network have this geometry. */
  count?: number;
}

export type ConvShape = Pick<Conv2dGeometry, 'n' | 'h' | 'w' | 'cin' | 'cout' | 'kh' | 'kw' | 'stride' | 'pad'>;

const F32 = 4;

export async function benchKernels(
  gpu: Gpu,
  opts: { batch: number; size: number; only?: string; timing?: TimingOptions; adamSize?: number; tuning?: TuningTable },
  onResult: (r: KernelResult) => void = () => {},
): Promise<KernelResult[]> {
  const be = new WebGpuBackend(gpu, opts.tuning);
  const shapes = unetShapes(opts.batch, opts.size);
  const r = rng(1);
  const results: KernelResult[] = [];
  const held: BufferRef[] = [];
  const random = (size: number, lo = -1, hi = 1): BufferRef => {
    const ref = be.upload(uniform(r, size, lo, hi));
    held.push(ref);
    return ref;
  };
  const wanted = (op: string) => !opts.only || op.startsWith(opts.only);

  const measure = async (op: string, layer: string, shape: string, work: { flops?: number; bytes?: number; conv?: ConvShape; count?: number }, record: () => BufferRef[]) => {
    if (!wanted(op)) return;
    const t = await timeGpu(gpu, `${op} ${shape}`, () => {
      const outs = record();
      return () => outs.forEach((o) => be.free(o));
    }, opts.timing);
    const seconds = t.medianMs / 1000;
    const result: KernelResult = {
      op,
      layer,
      shape,
      medianMs: t.medianMs,
      ...(work.flops !== undefined ? { gflops: work.flops / seconds / 1e9 } : {}),
      ...(work.bytes !== undefined ? { gbps: work.bytes / seconds / 1e9 } : {}),
      samples: t.samples,
      ...(work.conv ? { conv: work.conv, count: work.count } : {}),
    };
    results.push(result);
    onResult(result);
  };
  const sp = (g: SpatialGeometry) => `${g.n}x${g.h}x${g.w}x${g.c}`;
  const count = (g: SpatialGeometry) => g.n * g.h * g.w * g.c;

  try {
    for (const { name, g, count } of shapes.convs) {
      const shape = `${g.n}x${g.h}x${g.w}x${g.cin} * ${g.kh}x${g.kw}x${g.cin}x${g.cout} /${g.stride}`;
      const flops = 2 * g.n * g.oh * g.ow * g.cout * g.kh * g.kw * g.cin;
      const x = random(g.n * g.h * g.w * g.cin);
      const w = random(g.kh * g.kw * g.cin * g.cout);
      const bias = g.hasBias ? random(g.cout) : null;
      const dy = random(g.n * g.oh * g.ow * g.cout);
      const conv: ConvShape = { n: g.n, h: g.h, w: g.w, cin: g.cin, cout: g.cout, kh: g.kh, kw: g.kw, stride: g.stride, pad: g.pad };
      for (const kernel of CONV_KERNELS) {
        await measure(kernel, name, shape, { flops, conv, count }, () => [recordConv(kernel, gpu, be.tuning, { x, w, bias, dy }, g)]);
      }
    }
    for (const g of shapes.norms) {
      const size = count(g);
      const x = random(size);
      const gamma = random(g.c, 0.5, 1.5);
      const beta = random(g.c);
      const rm = random(g.c);
      const rv = random(g.c, 0.5, 1.5);
      const dy = random(size);
      const bn = { ...g, eps: 1e-5, momentum: 0.1 };
      const fuse: BnFuse = 'relu';
      // Forward reads x twice (statistics, then normalise) and writes y.
      await measure('batchNormTrain', 'bn+relu', sp(g), { bytes: 3 * size * F32 }, () => {
        const o = K.batchNormTrain(be, x, gamma, beta, rm, rv, null, bn, fuse);
        return [o.y, o.mean, o.invStd];
      });
      const fwd = K.batchNormTrain(be, x, gamma, beta, rm, rv, null, bn, fuse);
      held.push(fwd.y, fwd.mean, fwd.invStd);
      // Backward reads dy, x, y twice-ish (sums, then dx) and writes dx.
      await measure('batchNormBackward', 'bn+relu', sp(g), { bytes: 5 * size * F32 }, () => {
        const o = K.batchNormBackward(be, dy, x, fwd.y, fwd.mean, fwd.invStd, gamma, bn, fuse);
        return [o.dx, o.dgamma, o.dbeta];
      });
    }
    {
      const g = shapes.pool;
      const x = random(count(g));
      const out = g.n * g.oh * g.ow * g.c;
      const dy = random(out);
      await measure('maxPool2d', 'encoder pool', sp(g), { bytes: (count(g) + out) * F32 }, () => [K.maxPool2d(be, x, g)]);
      await measure('maxPool2dBackward', 'encoder pool', sp(g), { bytes: (2 * count(g) + out) * F32 }, () => [K.maxPool2dBackward(be, x, dy, g)]);
    }
    for (const g of shapes.upsamples) {
      const x = random(count(g));
      const dy = random(4 * count(g));
      await measure('upsample2x', 'decoder', sp(g), { bytes: 5 * count(g) * F32 }, () => [K.upsample2x(be, x, g)]);
      await measure('upsample2xBackward', 'decoder', sp(g), { bytes: 5 * count(g) * F32 }, () => [K.upsample2xBackward(be, dy, g)]);
    }
    for (const { g, ca, cb } of shapes.concats) {
      const px = g.n * g.h * g.w;
      const a = random(px * ca);
      const b = random(px * cb);
      const dy = random(px * (ca + cb));
      const bytes = 2 * px * (ca + cb) * F32;
      await measure('concat', 'decoder', `${sp(g)} + ${cb}`, { bytes }, () => [K.concatChannels(be, a, b, g, ca, cb)]);
      await measure('concatBackward', 'decoder', `${sp(g)} + ${cb}`, { bytes }, () => {
        const o = K.concatChannelsBackward(be, dy, g, ca, cb);
        return [o.da, o.db];
      });
    }
    {
      const g = shapes.logits;
      const size = count(g);
      const logits = random(size, -4, 4);
      const targets = random(size, 0, 1);
      const weights = random(g.n, 0.5, 1);
      const dloss = random(1);
      const bce = { n: g.n, perSample: g.h * g.w };
      await measure('sigmoidBce', 'loss', sp(g), { bytes: 2 * size * F32 }, () => [K.sigmoidBce(be, logits, targets, weights, bce)]);
      await measure('sigmoidBceBackward', 'loss', sp(g), { bytes: 3 * size * F32 }, () => [
        K.sigmoidBceBackward(be, logits, targets, weights, dloss, bce),
      ]);
    }
    {
      // Adam over the whole model in one range as long as its arena (whole vec4s, as training runs it).
      const size = opts.adamSize ?? Arena.layout([UNET_PARAMETERS], gpu.limits.minStorageBufferOffsetAlignment).totalElements;
      const p = random(size);
      const grads = random(size);
      const m = random(size, 0, 0);
      const v = random(size, 0, 0);
      let step = 0;
      await measure('adam', 'all parameters', `${size}`, { bytes: 7 * size * F32 }, () => {
        K.adam(be, p, grads, m, v, size, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: ++step });
        return [];
      });
    }
  } finally {
    for (const ref of held) be.free(ref);
  }
  return results;
}
