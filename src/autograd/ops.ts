// The op table: one entry per differentiable primitive, typed over the op names, each stating its
// attributes, its forward and backward and the Backend kernels they call (rule.ts), so an op without a
// piece does not compile. Composite ops (mean, sub, ...) are written from these in functional.ts and get
// their gradients for free; apply.ts runs an entry and records the tape.
import {
  type BatchNormGeometry,
  broadcastShapes,
  conv2dGeometry,
  fmt,
  lastAxisRows,
  matmulGeometry,
  poolGeometry,
  spatial,
  sizeOf,
  topkGeometry,
} from '../core/geometry.js';
import type { BnFuse } from '../core/types.js';
import { type OpRule, rule, sumTo, wrap } from './rule.js';
import type { Tensor } from './tensor.js';

function binaryRule(op: 'add' | 'sub' | 'mul' | 'div'): OpRule<Record<string, never>> {
  return rule({
    kernels: ['binary', 'reduceSum', 'scale'],
    forward([a, b]) {
      const shape = broadcastShapes(a!.shape, b!.shape, op);
      return { data: a!.backend.binary(op, a!.data, a!.shape, b!.data, b!.shape, shape), shape };
    },
    backward(dy, [a, b]) {
      const be = dy.backend;
      if (op === 'add') return [sumTo(dy, a!.shape), sumTo(dy, b!.shape)];
      if (op === 'sub') return [sumTo(dy, a!.shape), sumTo(wrap(dy, be.scale(dy.data, -1, dy.size), dy.shape), b!.shape)];
      if (op === 'div') {
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b.
        const da = wrap(dy, be.binary('div', dy.data, dy.shape, b!.data, b!.shape, dy.shape), dy.shape);
        const q = be.binary('div', a!.data, a!.shape, b!.data, b!.shape, dy.shape);
        const qOverB = be.binary('div', q, dy.shape, b!.data, b!.shape, dy.shape);
        const dbFull = be.binary('mul', dy.data, dy.shape, qOverB, dy.shape, dy.shape);
        be.free(q);
        be.free(qOverB);
        const db = wrap(dy, be.scale(dbFull, -1, dy.size), dy.shape);
        be.free(dbFull);
        return [sumTo(da, a!.shape), sumTo(db, b!.shape)];
      }
      const da = wrap(dy, be.binary('mul', dy.data, dy.shape, b!.data, b!.shape, dy.shape), dy.shape);
      const db = wrap(dy, be.binary('mul', dy.data, dy.shape, a!.data, a!.shape, dy.shape), dy.shape);
      return [sumTo(da, a!.shape), sumTo(db, b!.shape)];
    },
  });
}

export const opRules = {
  add: binaryRule('add'),
  sub: binaryRule('sub'),
  mul: binaryRule('mul'),
  div: binaryRule('div'),

  scale: rule<{ alpha: number }>({
    kernels: ['scale'],
    forward: ([x], { alpha }) => ({ data: x!.backend.scale(x!.data, alpha, x!.size), shape: x!.shape }),
    backward: (dy, _inputs, _out, { alpha }) => [wrap(dy, dy.backend.scale(dy.data, alpha, dy.size), dy.shape)],
  }),

  relu: rule({
    kernels: ['unary', 'reluGrad'],
    forward: ([x]) => ({ data: x!.backend.unary('relu', x!.data, x!.size), shape: x!.shape }),
    backward: (dy, [x]) => [wrap(dy, dy.backend.reluGrad(x!.data, dy.data, dy.size), dy.shape)],
  }),

  sigmoid: rule({
    kernels: ['unary', 'binary'],
    forward: ([x]) => ({ data: x!.backend.unary('sigmoid', x!.data, x!.size), shape: x!.shape }),
    backward(dy, _inputs, out) {
      // ds/dx = s (1 - s), from the forward's output.
      const be = dy.backend;
      const shape = dy.shape;
      const sq = be.binary('mul', out.data, shape, out.data, shape, shape);
      const slope = be.binary('sub', out.data, shape, sq, shape, shape);
      const dx = be.binary('mul', dy.data, shape, slope, shape, shape);
      be.free(sq);
      be.free(slope);
      return [wrap(dy, dx, shape)];
    },
  }),

  sum: rule<{ axes: number[]; keepDims: boolean }>({
    kernels: ['reduceSum', 'binary'],
    forward([x], { axes, keepDims }) {
      const kept = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const shape = keepDims ? kept : x!.shape.filter((_, i) => !axes.includes(i));
      return { data: x!.backend.reduceSum(x!.data, x!.shape, axes), shape };
    },
    backward(dy, [x], _out, { axes }) {
      // Broadcast dy (with the reduced axes as 1) back over x's shape: dy + zeros(x).
      const kept = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const be = dy.backend;
      const zeros = be.fill(0, x!.size);
      const data = be.binary('add', dy.data, kept, zeros, x!.shape, x!.shape);
      be.free(zeros);
      return [wrap(dy, data, x!.shape)];
    },
  }),

  matmul: rule({
    kernels: ['matmul'],
    forward([a, b]) {
      const g = matmulGeometry(a!.shape, b!.shape);
      return { data: a!.backend.matmul(a!.data, b!.data, g), shape: [g.m, g.n] };
    },
    backward(dy, [a, b]) {
      const be = dy.backend;
      // dA = dY Bᵀ, dB = Aᵀ dY.
      const da = be.matmul(dy.data, b!.data, matmulGeometry(dy.shape, b!.shape, false, true));
      const db = be.matmul(a!.data, dy.data, matmulGeometry(a!.shape, dy.shape, true, false));
      return [wrap(dy, da, a!.shape), wrap(dy, db, b!.shape)];
    },
  }),

  conv2d: rule<{ stride: number; pad: number }>({
    kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad', 'conv2dBiasGrad'],
    forward([x, w, bias], { stride, pad }) {
      const g = conv2dGeometry(x!.shape, w!.shape, stride, pad, !!bias);
      if (bias && (bias.shape.length !== 1 || bias.shape[0] !== g.cout)) {
        throw new Error(`conv2d: bias ${fmt(bias.shape)} does not match weight ${fmt(w!.shape)} (HWIO)`);
      }
      return { data: x!.backend.conv2d(x!.data, w!.data, bias?.data ?? null, g), shape: [g.n, g.oh, g.ow, g.cout] };
    },
    backward(dy, [x, w, bias], _out, { stride, pad }) {
      const be = dy.backend;
      const g = conv2dGeometry(x!.shape, w!.shape, stride, pad, !!bias);
      return [
        x!.requiresGrad ? wrap(dy, be.conv2dInputGrad(dy.data, w!.data, g), x!.shape) : null,
        w!.requiresGrad ? wrap(dy, be.conv2dWeightGrad(x!.data, dy.data, g), w!.shape) : null,
        bias?.requiresGrad ? wrap(dy, be.conv2dBiasGrad(dy.data, g), bias.shape) : null,
      ];
    },
  }),

  /** Inputs: x, gamma, beta, running mean, running var (updated in place in training), residual (add-relu). */
  batchNorm: rule<{ eps: number; momentum: number; fuse: BnFuse; training: boolean }>({
    kernels: ['batchNormTrain', 'batchNormEval', 'batchNormBackward'],
    forward(inputs, a) {
      const [x, gamma, beta, runningMean, runningVar, residual] = inputs;
      const g = bnGeometry(inputs, a);
      const be = x!.backend;
      const args = [x!.data, gamma!.data, beta!.data, runningMean!.data, runningVar!.data, residual?.data ?? null] as const;
      if (!a.training) return { data: be.batchNormEval(...args, g, a.fuse), shape: x!.shape };
      const { y, mean, invStd } = be.batchNormTrain(...args, g, a.fuse);
      return { data: y, shape: x!.shape, saved: [mean, invStd] };
    },
    backward(dy, inputs, out, a, saved) {
      if (!a.training) throw new Error('batchNorm: backward through eval mode is not supported');
      const [x, gamma, , , , residual] = inputs;
      const g = bnGeometry(inputs, a);
      const r = dy.backend.batchNormBackward(dy.data, x!.data, out.data, saved[0]!, saved[1]!, gamma!.data, g, a.fuse);
      const c = [g.c];
      const dresidual = residual && r.dresidual ? wrap(dy, r.dresidual, residual.shape) : null;
      return [wrap(dy, r.dx, x!.shape), wrap(dy, r.dgamma, c), wrap(dy, r.dbeta, c), null, null, dresidual];
    },
  }),

  maxPool2d: rule<{ k: number; stride: number; pad: number }>({
    kernels: ['maxPool2d', 'maxPool2dBackward'],
    forward([x], { k, stride, pad }) {
      const g = poolGeometry(x!.shape, k, stride, pad);
      return { data: x!.backend.maxPool2d(x!.data, g), shape: [g.n, g.oh, g.ow, g.c] };
    },
    backward(dy, [x], _out, { k, stride, pad }) {
      const g = poolGeometry(x!.shape, k, stride, pad);
      return [wrap(dy, dy.backend.maxPool2dBackward(x!.data, dy.data, g), x!.shape)];
    },
  }),

  upsample2x: rule({
    kernels: ['upsample2x', 'upsample2xBackward'],
    forward([x]) {
      const g = spatial(x!.shape, 'upsample2x');
      return { data: x!.backend.upsample2x(x!.data, g), shape: [g.n, 2 * g.h, 2 * g.w, g.c] };
    },
    backward: (dy, [x]) => [wrap(dy, dy.backend.upsample2xBackward(dy.data, spatial(x!.shape, 'upsample2x')), x!.shape)],
  }),

  concat: rule({
    kernels: ['concatChannels', 'concatChannelsBackward'],
    forward([a, b]) {
      const ga = spatial(a!.shape, 'concat');
      const gb = spatial(b!.shape, 'concat');
      if (ga.n !== gb.n || ga.h !== gb.h || ga.w !== gb.w) {
        throw new Error(`concat: ${fmt(a!.shape)} and ${fmt(b!.shape)} differ outside the channel axis`);
      }
      return { data: a!.backend.concatChannels(a!.data, b!.data, ga, ga.c, gb.c), shape: [ga.n, ga.h, ga.w, ga.c + gb.c] };
    },
    backward(dy, [a, b]) {
      const ga = spatial(a!.shape, 'concat');
      const { da, db } = dy.backend.concatChannelsBackward(dy.data, ga, ga.c, b!.shape[3]!);
      return [wrap(dy, da, a!.shape), wrap(dy, db, b!.shape)];
    },
  }),

  sigmoidBce: rule({
    kernels: ['sigmoidBce', 'sigmoidBceBackward'],
    forward([logits, targets, weights]) {
      const g = bceGeometry(logits!, targets!, weights!);
      return { data: logits!.backend.sigmoidBce(logits!.data, targets!.data, weights!.data, g), shape: [] };
    },
    backward(dy, [logits, targets, weights]) {
      const g = bceGeometry(logits!, targets!, weights!);
      const d = dy.backend.sigmoidBceBackward(logits!.data, targets!.data, weights!.data, dy.data, g);
      return [wrap(dy, d, logits!.shape), null, null];
    },
  }),

  l2Normalize: rule<{ eps: number }>({
    kernels: ['l2Normalize', 'l2NormalizeBackward'],
    forward([x], { eps }) {
      const { rows, dim } = lastAxisRows(x!.shape, 'l2Normalize');
      const { y, norm } = x!.backend.l2Normalize(x!.data, rows, dim, eps);
      return { data: y, shape: x!.shape, saved: [norm] };
    },
    backward(dy, [x], out, { eps }, saved) {
      const { rows, dim } = lastAxisRows(x!.shape, 'l2Normalize');
      return [wrap(dy, dy.backend.l2NormalizeBackward(dy.data, out.data, saved[0]!, rows, dim, eps), x!.shape)];
    },
  }),

  /**
   * A selection, not differentiable: the mask is piecewise constant in x, so no gradient reaches x (null,
   * as for sigmoidBce's targets). F.topkMask runs it under noGrad, so its result is a constant.
   */
  topkMask: rule<{ k: number }>({
    kernels: ['topkMask'],
    forward: ([x], { k }) => ({ data: x!.backend.topkMask(x!.data, topkGeometry(x!.shape, k)), shape: x!.shape }),
    backward: () => [null],
  }),
};

function bnGeometry<S>(inputs: Tensor<S>[], a: { eps: number; momentum: number; fuse: BnFuse }): BatchNormGeometry {
  const [x, gamma, beta, runningMean, runningVar, residual] = inputs as [Tensor<S>, Tensor<S>, Tensor<S>, Tensor<S>, Tensor<S>, Tensor<S>?];
  const s = spatial(x.shape, 'batchNorm');
  for (const [name, t] of [['gamma', gamma], ['beta', beta], ['running mean', runningMean], ['running var', runningVar]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== s.c) throw new Error(`batchNorm: ${name} ${fmt(t.shape)} does not match input ${fmt(x.shape)}`);
  }
  if (a.fuse === 'add-relu') {
    if (!residual || fmt(residual.shape) !== fmt(x.shape)) {
      throw new Error(`batchNorm: residual ${residual ? fmt(residual.shape) : 'missing'} does not match input ${fmt(x.shape)}`);
    }
  } else if (residual) throw new Error(`batchNorm: a residual needs fuse 'add-relu', not '${a.fuse}'`);
  return { ...s, eps: a.eps, momentum: a.momentum };
}

function bceGeometry<S>(logits: Tensor<S>, targets: Tensor<S>, weights: Tensor<S>) {
  if (fmt(logits.shape) !== fmt(targets.shape)) throw new Error(`sigmoidBce: logits ${fmt(logits.shape)} and targets ${fmt(targets.shape)} differ`);
  const n = logits.shape[0] ?? 1;
  if (weights.size !== n) throw new Error(`sigmoidBce: weights ${fmt(weights.shape)} do not give one per sample of ${fmt(logits.shape)}`);
  return { n, perSample: sizeOf(logits.shape) / Math.max(1, n) };
}
