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
import { type OpRule, binaryOf, rule, scaleOf, sumTo, wrap } from './rule.js';
import type { Tensor } from './tensor.js';
import * as K from '../backend/kernels.js';

function binaryRule(op: 'add' | 'sub' | 'mul' | 'div'): OpRule<Record<string, never>> {
  return rule({
    kernels: [K.binary, K.reduceSum, K.scale],
    forward([a, b]) {
      const shape = broadcastShapes(a!.shape, b!.shape, op);
      return { data: K.binary(a!.backend, op, a!.data, a!.shape, b!.data, b!.shape, shape), shape };
    },
    backward(dy, [a, b]) {
      if (op === 'add') return [sumTo(dy, a!.shape), sumTo(dy, b!.shape)];
      if (op === 'sub') return [sumTo(dy, a!.shape), sumTo(scaleOf(dy, -1), b!.shape)];
      if (op === 'div') {
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b.
        const da = binaryOf('div', dy, b!);
        const q = binaryOf('div', a!, b!, dy.shape);
        const db = scaleOf(binaryOf('mul', dy, binaryOf('div', q, b!)), -1);
        return [sumTo(da, a!.shape), sumTo(db, b!.shape)];
      }
      return [sumTo(binaryOf('mul', dy, b!), a!.shape), sumTo(binaryOf('mul', dy, a!), b!.shape)];
    },
  });
}

export const opRules = {
  add: binaryRule('add'),
  sub: binaryRule('sub'),
  mul: binaryRule('mul'),
  div: binaryRule('div'),

  scale: rule<{ alpha: number }>({
    kernels: [K.scale],
    forward: ([x], { alpha }) => ({ data: K.scale(x!.backend, x!.data, alpha, x!.size), shape: x!.shape }),
    backward: (dy, _inputs, _out, { alpha }) => [wrap(dy, K.scale(dy.backend, dy.data, alpha, dy.size), dy.shape)],
  }),

  relu: rule({
    kernels: [K.unary, K.reluGrad],
    forward: ([x]) => ({ data: K.unary(x!.backend, 'relu', x!.data, x!.size), shape: x!.shape }),
    backward: (dy, [x]) => [wrap(dy, K.reluGrad(dy.backend, x!.data, dy.data, dy.size), dy.shape)],
  }),

  sigmoid: rule({
    kernels: [K.unary, K.binary],
    forward: ([x]) => ({ data: K.unary(x!.backend, 'sigmoid', x!.data, x!.size), shape: x!.shape }),
    // ds/dx = s (1 - s), from the forward's output.
    backward: (dy, _inputs, out) => [binaryOf('mul', dy, binaryOf('sub', out, binaryOf('mul', out, out)))],
  }),

  sum: rule<{ axes: number[]; keepDims: boolean }>({
    kernels: [K.reduceSum, K.binary],
    forward([x], { axes, keepDims }) {
      const kept = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const shape = keepDims ? kept : x!.shape.filter((_, i) => !axes.includes(i));
      return { data: K.reduceSum(x!.backend, x!.data, x!.shape, axes), shape };
    },
    backward(dy, [x], _out, { axes }) {
      // Broadcast dy (with the reduced axes as 1) back over x's shape: dy + zeros(x).
      const kept = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const zeros = wrap(dy, dy.backend.fill(0, x!.size), x!.shape);
      return [binaryOf('add', dy.reshape(kept), zeros, x!.shape)];
    },
  }),

  matmul: rule({
    kernels: [K.matmul],
    forward([a, b]) {
      const g = matmulGeometry(a!.shape, b!.shape);
      return { data: K.matmul(a!.backend, a!.data, b!.data, g), shape: [g.m, g.n] };
    },
    backward(dy, [a, b]) {
      const be = dy.backend;
      // dA = dY Bᵀ, dB = Aᵀ dY.
      const da = K.matmul(be, dy.data, b!.data, matmulGeometry(dy.shape, b!.shape, false, true));
      const db = K.matmul(be, a!.data, dy.data, matmulGeometry(a!.shape, dy.shape, true, false));
      return [wrap(dy, da, a!.shape), wrap(dy, db, b!.shape)];
    },
  }),

  conv2d: rule<{ stride: number; pad: number }>({
    kernels: [K.conv2d, K.conv2dInputGrad, K.conv2dWeightGrad, K.conv2dBiasGrad],
    forward([x, w, bias], { stride, pad }) {
      const g = conv2dGeometry(x!.shape, w!.shape, stride, pad, !!bias);
      if (bias && (bias.shape.length !== 1 || bias.shape[0] !== g.cout)) {
        throw new Error(`conv2d: bias ${fmt(bias.shape)} does not match weight ${fmt(w!.shape)} (HWIO)`);
      }
      return { data: K.conv2d(x!.backend, x!.data, w!.data, bias?.data ?? null, g), shape: [g.n, g.oh, g.ow, g.cout] };
    },
    backward(dy, [x, w, bias], _out, { stride, pad }) {
      const be = dy.backend;
      const g = conv2dGeometry(x!.shape, w!.shape, stride, pad, !!bias);
      return [
        x!.requiresGrad ? wrap(dy, K.conv2dInputGrad(be, dy.data, w!.data, g), x!.shape) : null,
        w!.requiresGrad ? wrap(dy, K.conv2dWeightGrad(be, x!.data, dy.data, g), w!.shape) : null,
        bias?.requiresGrad ? wrap(dy, K.conv2dBiasGrad(be, dy.data, g), bias.shape) : null,
      ];
    },
  }),

  /** Inputs: x, gamma, beta, running mean, running var (updated in place in training), residual (add-relu). */
  batchNorm: rule<{ eps: number; momentum: number; fuse: BnFuse; training: boolean }>({
    kernels: [K.batchNormTrain, K.batchNormEval, K.batchNormBackward],
    forward(inputs, a) {
      const [x, gamma, beta, runningMean, runningVar, residual] = inputs;
      const g = bnGeometry(inputs, a);
      const be = x!.backend;
      const args = [x!.data, gamma!.data, beta!.data, runningMean!.data, runningVar!.data, residual?.data ?? null] as const;
      if (!a.training) return { data: K.batchNormEval(be, ...args, g, a.fuse), shape: x!.shape };
      const { y, mean, invStd } = K.batchNormTrain(be, ...args, g, a.fuse);
      return { data: y, shape: x!.shape, saved: [mean, invStd] };
    },
    backward(dy, inputs, out, a, saved) {
      if (!a.training) throw new Error('batchNorm: backward through eval mode is not supported');
      const [x, gamma, , , , residual] = inputs;
      const g = bnGeometry(inputs, a);
      const r = K.batchNormBackward(dy.backend, dy.data, x!.data, out.data, saved[0]!, saved[1]!, gamma!.data, g, a.fuse);
      const c = [g.c];
      const dresidual = residual && r.dresidual ? wrap(dy, r.dresidual, residual.shape) : null;
      return [wrap(dy, r.dx, x!.shape), wrap(dy, r.dgamma, c), wrap(dy, r.dbeta, c), null, null, dresidual];
    },
  }),

  maxPool2d: rule<{ k: number; stride: number; pad: number }>({
    kernels: [K.maxPool2d, K.maxPool2dBackward],
    forward([x], { k, stride, pad }) {
      const g = poolGeometry(x!.shape, k, stride, pad);
      return { data: K.maxPool2d(x!.backend, x!.data, g), shape: [g.n, g.oh, g.ow, g.c] };
    },
    backward(dy, [x], _out, { k, stride, pad }) {
      const g = poolGeometry(x!.shape, k, stride, pad);
      return [wrap(dy, K.maxPool2dBackward(dy.backend, x!.data, dy.data, g), x!.shape)];
    },
  }),

  upsample2x: rule({
    kernels: [K.upsample2x, K.upsample2xBackward],
    forward([x]) {
      const g = spatial(x!.shape, 'upsample2x');
      return { data: K.upsample2x(x!.backend, x!.data, g), shape: [g.n, 2 * g.h, 2 * g.w, g.c] };
    },
    backward: (dy, [x]) => [wrap(dy, K.upsample2xBackward(dy.backend, dy.data, spatial(x!.shape, 'upsample2x')), x!.shape)],
  }),

  concat: rule({
    kernels: [K.concatChannels, K.concatChannelsBackward],
    forward([a, b]) {
      const ga = spatial(a!.shape, 'concat');
      const gb = spatial(b!.shape, 'concat');
      if (ga.n !== gb.n || ga.h !== gb.h || ga.w !== gb.w) {
        throw new Error(`concat: ${fmt(a!.shape)} and ${fmt(b!.shape)} differ outside the channel axis`);
      }
      return { data: K.concatChannels(a!.backend, a!.data, b!.data, ga, ga.c, gb.c), shape: [ga.n, ga.h, ga.w, ga.c + gb.c] };
    },
    backward(dy, [a, b]) {
      const ga = spatial(a!.shape, 'concat');
      const { da, db } = K.concatChannelsBackward(dy.backend, dy.data, ga, ga.c, b!.shape[3]!);
      return [wrap(dy, da, a!.shape), wrap(dy, db, b!.shape)];
    },
  }),

  sigmoidBce: rule({
    kernels: [K.sigmoidBce, K.sigmoidBceBackward],
    forward([logits, targets, weights]) {
      const g = bceGeometry(logits!, targets!, weights!);
      return { data: K.sigmoidBce(logits!.backend, logits!.data, targets!.data, weights!.data, g), shape: [] };
    },
    backward(dy, [logits, targets, weights]) {
      const g = bceGeometry(logits!, targets!, weights!);
      const d = K.sigmoidBceBackward(dy.backend, logits!.data, targets!.data, weights!.data, dy.data, g);
      return [wrap(dy, d, logits!.shape), null, null];
    },
  }),

  l2Normalize: rule<{ eps: number }>({
    kernels: [K.l2Normalize, K.l2NormalizeBackward],
    forward([x], { eps }) {
      const { rows, dim } = lastAxisRows(x!.shape, 'l2Normalize');
      const { y, norm } = K.l2Normalize(x!.backend, x!.data, rows, dim, eps);
      return { data: y, shape: x!.shape, saved: [norm] };
    },
    backward(dy, [x], out, { eps }, saved) {
      const { rows, dim } = lastAxisRows(x!.shape, 'l2Normalize');
      return [wrap(dy, K.l2NormalizeBackward(dy.backend, dy.data, out.data, saved[0]!, rows, dim, eps), x!.shape)];
    },
  }),

  /**
   * A selection, not differentiable: the mask is piecewise constant in x, so no gradient reaches x (null,
   * as for sigmoidBce's targets). F.topkMask runs it under noGrad, so its result is a constant.
   */
  topkMask: rule<{ k: number }>({
    kernels: [K.topkMask],
    forward: ([x], { k }) => ({ data: K.topkMask(x!.backend, x!.data, topkGeometry(x!.shape, k)), shape: x!.shape }),
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
