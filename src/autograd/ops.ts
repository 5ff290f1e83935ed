// The op table: one entry per differentiable primitive, typed over the op names, so an op without a
// forward or a backward does not compile. Forward and backward call Backend kernels (the reference and
// the GPU implement the same contract); composite ops (mean, sub, ...) are written from these in
// functional.ts and get their gradients for free.
import type { BnFuse } from '../core/types.js';
import {
  type BatchNormGeometry,
  type Shape,
  broadcastAxes,
  broadcastShapes,
  conv2dGeometry,
  fmt,
  lastAxisRows,
  matmulGeometry,
  normalizeAxes,
  poolGeometry,
  spatial,
  sizeOf,
} from '../core/geometry.js';
import { Tensor, isGradEnabled } from './tensor.js';

/** Attributes of each op (the non-tensor arguments). */
export interface OpAttrs {
  add: Record<string, never>;
  sub: Record<string, never>;
  mul: Record<string, never>;
  div: Record<string, never>;
  scale: { alpha: number };
  relu: Record<string, never>;
  sigmoid: Record<string, never>;
  sum: { axes: number[]; keepDims: boolean };
  matmul: Record<string, never>;
  conv2d: { stride: number; pad: number };
  batchNorm: { eps: number; momentum: number; fuse: BnFuse; training: boolean; runningMean: Tensor; runningVar: Tensor };
  maxPool2d: { k: number; stride: number; pad: number };
  upsample2x: Record<string, never>;
  concat: Record<string, never>;
  sigmoidBce: Record<string, never>;
  l2Normalize: { eps: number };
}
export type OpName = keyof OpAttrs;

interface ForwardResult {
  data: unknown;
  shape: Shape;
  /** Extra storage for the backward, freed with the output. */
  saved?: unknown[];
}

interface OpRule<P extends OpName> {
  forward(inputs: Tensor[], attrs: OpAttrs[P]): ForwardResult;
  /** Gradient of each input from dy; `out` is the forward's result (with its saved storage). */
  backward(dy: Tensor, inputs: Tensor[], out: Tensor, attrs: OpAttrs[P], saved: unknown[]): (Tensor | null)[];
}

/** Wraps backend storage as a (non-differentiable) tensor. */
function wrap(like: Tensor, data: unknown, shape: Shape): Tensor {
  return new Tensor(like.backend, data, shape);
}

/** Sums a broadcast gradient back to the shape of the input it came from. */
function sumTo(g: Tensor, shape: Shape): Tensor {
  const axes = broadcastAxes(shape, g.shape);
  if (axes.length === 0 && g.shape.length === shape.length) return g;
  const data = axes.length ? g.backend.reduceSum(g.data, g.shape, axes) : g.backend.scale(g.data, 1, g.size);
  return wrap(g, data, shape);
}

function binaryRule(op: 'add' | 'sub' | 'mul' | 'div'): OpRule<typeof op> {
  return {
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
  };
}

export const opRules: { [P in OpName]: OpRule<P> } = {
  add: binaryRule('add'),
  sub: binaryRule('sub'),
  mul: binaryRule('mul'),
  div: binaryRule('div'),

  scale: {
    forward([x], { alpha }) {
      return { data: x!.backend.scale(x!.data, alpha, x!.size), shape: x!.shape };
    },
    backward(dy, _inputs, _out, { alpha }) {
      return [wrap(dy, dy.backend.scale(dy.data, alpha, dy.size), dy.shape)];
    },
  },

  relu: {
    forward([x]) {
      return { data: x!.backend.unary('relu', x!.data, x!.size), shape: x!.shape };
    },
    backward(dy, [x]) {
      return [wrap(dy, dy.backend.reluGrad(x!.data, dy.data, dy.size), dy.shape)];
    },
  },

  sigmoid: {
    forward([x]) {
      return { data: x!.backend.unary('sigmoid', x!.data, x!.size), shape: x!.shape };
    },
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
  },

  sum: {
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
  },

  matmul: {
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
  },

  conv2d: {
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
  },

  batchNorm: {
    forward([x, gamma, beta, residual], a) {
      const g = bnGeometry(x!, gamma!, beta!, residual, a);
      const be = x!.backend;
      const args = [x!.data, gamma!.data, beta!.data, a.runningMean.data, a.runningVar.data, residual?.data ?? null] as const;
      if (!a.training) return { data: be.batchNormEval(...args, g, a.fuse), shape: x!.shape };
      const { y, mean, invStd } = be.batchNormTrain(...args, g, a.fuse);
      return { data: y, shape: x!.shape, saved: [mean, invStd] };
    },
    backward(dy, [x, gamma, beta, residual], out, a, saved) {
      if (!a.training) throw new Error('batchNorm: backward through eval mode is not supported');
      const g = bnGeometry(x!, gamma!, beta!, residual, a);
      const r = dy.backend.batchNormBackward(dy.data, x!.data, out.data, saved[0], saved[1], gamma!.data, g, a.fuse);
      const c = [g.c];
      return [
        wrap(dy, r.dx, x!.shape),
        wrap(dy, r.dgamma, c),
        wrap(dy, r.dbeta, c),
        residual && r.dresidual ? wrap(dy, r.dresidual, residual.shape) : null,
      ];
    },
  },

  maxPool2d: {
    forward([x], { k, stride, pad }) {
      const g = poolGeometry(x!.shape, k, stride, pad);
      return { data: x!.backend.maxPool2d(x!.data, g), shape: [g.n, g.oh, g.ow, g.c] };
    },
    backward(dy, [x], _out, { k, stride, pad }) {
      const g = poolGeometry(x!.shape, k, stride, pad);
      return [wrap(dy, dy.backend.maxPool2dBackward(x!.data, dy.data, g), x!.shape)];
    },
  },

  upsample2x: {
    forward([x]) {
      const g = spatial(x!.shape, 'upsample2x');
      return { data: x!.backend.upsample2x(x!.data, g), shape: [g.n, 2 * g.h, 2 * g.w, g.c] };
    },
    backward(dy, [x]) {
      const g = spatial(x!.shape, 'upsample2x');
      return [wrap(dy, dy.backend.upsample2xBackward(dy.data, g), x!.shape)];
    },
  },

  concat: {
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
  },

  sigmoidBce: {
    forward([logits, targets, weights]) {
      const g = bceGeometry(logits!, targets!, weights!);
      return { data: logits!.backend.sigmoidBce(logits!.data, targets!.data, weights!.data, g), shape: [] };
    },
    backward(dy, [logits, targets, weights]) {
      const g = bceGeometry(logits!, targets!, weights!);
      const d = dy.backend.sigmoidBceBackward(logits!.data, targets!.data, weights!.data, dy.data, g);
      return [wrap(dy, d, logits!.shape), null, null];
    },
  },

  l2Normalize: {
    forward([x], { eps }) {
      const { rows, dim } = lastAxisRows(x!.shape, 'l2Normalize');
      const { y, norm } = x!.backend.l2Normalize(x!.data, rows, dim, eps);
      return { data: y, shape: x!.shape, saved: [norm] };
    },
    backward(dy, [x], out, { eps }, saved) {
      const { rows, dim } = lastAxisRows(x!.shape, 'l2Normalize');
      return [wrap(dy, dy.backend.l2NormalizeBackward(dy.data, out.data, saved[0], rows, dim, eps), x!.shape)];
    },
  },
};

function bnGeometry(x: Tensor, gamma: Tensor, beta: Tensor, residual: Tensor | undefined, a: OpAttrs['batchNorm']): BatchNormGeometry {
  const s = spatial(x.shape, 'batchNorm');
  for (const [name, t] of [['gamma', gamma], ['beta', beta], ['running mean', a.runningMean], ['running var', a.runningVar]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== s.c) throw new Error(`batchNorm: ${name} ${fmt(t.shape)} does not match input ${fmt(x.shape)}`);
  }
  if (a.fuse === 'add-relu') {
    if (!residual || fmt(residual.shape) !== fmt(x.shape)) {
      throw new Error(`batchNorm: residual ${residual ? fmt(residual.shape) : 'missing'} does not match input ${fmt(x.shape)}`);
    }
  } else if (residual) throw new Error(`batchNorm: a residual needs fuse 'add-relu', not '${a.fuse}'`);
  return { ...s, eps: a.eps, momentum: a.momentum };
}

function bceGeometry(logits: Tensor, targets: Tensor, weights: Tensor) {
  if (fmt(logits.shape) !== fmt(targets.shape)) throw new Error(`sigmoidBce: logits ${fmt(logits.shape)} and targets ${fmt(targets.shape)} differ`);
  const n = logits.shape[0] ?? 1;
  if (weights.size !== n) throw new Error(`sigmoidBce: weights ${fmt(weights.shape)} do not give one per sample of ${fmt(logits.shape)}`);
  return { n, perSample: sizeOf(logits.shape) / Math.max(1, n) };
}

/** Runs op `P` on tensors, recording the tape entry when any input requires a gradient. */
export function apply<P extends OpName>(op: P, inputs: (Tensor | undefined)[], attrs: OpAttrs[P]): Tensor {
  const present = inputs.filter((t): t is Tensor => !!t);
  const backend = present[0]!.backend;
  for (const t of present) {
    t.assertLive(op);
    if (t.backend !== backend) throw new Error(`${op}: inputs live on different backends`);
  }
  const rule = opRules[op] as OpRule<P>;
  const r = rule.forward(inputs as Tensor[], attrs);
  const needsGrad = isGradEnabled() && present.some((t) => t.requiresGrad);
  const out = new Tensor(backend, r.data, r.shape, needsGrad);
  const saved = r.saved ?? [];
  if (needsGrad) {
    out.node = {
      op,
      // Absent optional inputs (a missing bias) stay as undefined slots so rules index them by position.
      inputs: inputs as Tensor[],
      saved,
      backward: (dy) => rule.backward(dy, inputs as Tensor[], out, attrs, saved),
    };
  } else {
    for (const s of saved) backend.free(s);
  }
  return out;
}

export { normalizeAxes };
