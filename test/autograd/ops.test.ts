// The op table's kernel lists are true: running every op's forward and backward on a recording CPU
// backend calls exactly the kernels its entry names (over samples that reach each branch), and every
// kernel of the shared table (src/backend/kernels.ts) is named by some op or by the optimizer (no dead
// kernel).
import { describe, expect, it } from 'vitest';
import { F, Tensor, noGrad, opRules, scope } from '../../src/autograd/index.js';
import { runKernel } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import type { KernelDef } from '../../src/backend/kernel.js';
import * as K from '../../src/backend/kernels.js';
import { rng, uniform } from '../../src/util/random.js';

type S = Float64Array;
const calls = new Set<string>();
/** The CPU backend, noting each kernel an op calls (not those a derived kernel is built from). */
let depth = 0;
class RecordingBackend extends CpuBackend {
  override readonly dispatch = (k: KernelDef, args: readonly unknown[]): unknown => {
    if (depth === 0) calls.add(k.id);
    depth++;
    try {
      return runKernel(this, k, args, (native) => native.cpu(...(args as never[])));
    } finally {
      depth--;
    }
  };
}
const recording = new RecordingBackend();

const r = rng(7);
const t = (shape: number[], grad = true) => Tensor.from(recording, uniform(r, shape.reduce((a, b) => a * b, 1), -1, 1), shape, grad);
const positive = (shape: number[]) => Tensor.from(recording, uniform(r, shape.reduce((a, b) => a * b, 1), 0.5, 2), shape, true);

function bn(training: boolean, fuse: 'none' | 'relu' | 'add-relu' = 'none') {
  const c = 4;
  const x = t([2, 3, 3, c]);
  return F.batchNorm(x, {
    gamma: t([c]),
    beta: t([c]),
    runningMean: t([c], false),
    runningVar: positive([c]),
    training,
    fuse,
    residual: fuse === 'add-relu' ? t([2, 3, 3, c]) : undefined,
  });
}

/** Calls of each op, together reaching every branch of its forward and backward. */
const samples: Record<keyof typeof opRules, (() => Tensor<S>)[]> = {
  // Broadcast over an axis (the gradient is reduced) and over a new leading axis of 1 (it is copied).
  add: [() => F.add(t([2, 3]), t([3])), () => F.add(t([1, 3]), t([3]))],
  sub: [() => F.sub(t([2, 3]), t([3])), () => F.sub(t([1, 3]), t([3]))],
  mul: [() => F.mul(t([2, 3]), t([2, 1])), () => F.mul(t([1, 3]), t([3]))],
  div: [() => F.div(t([2, 3]), positive([3])), () => F.div(t([1, 3]), positive([3]))],
  scale: [() => F.scale(t([3]), 2)],
  relu: [() => F.relu(t([4]))],
  sigmoid: [() => F.sigmoid(t([4]))],
  sum: [() => F.sum(t([2, 3]), [1])],
  matmul: [() => F.matmul(t([2, 3]), t([3, 4]))],
  conv2d: [() => F.conv2d(t([1, 5, 5, 4]), t([3, 3, 4, 4]), t([4]), 1, 1)],
  batchNorm: [() => bn(true), () => bn(true, 'add-relu'), () => noGrad(() => bn(false))],
  maxPool2d: [() => F.maxPool2d(t([1, 4, 4, 4]))],
  upsample2x: [() => F.upsample2x(t([1, 2, 2, 4]))],
  concat: [() => F.concat(t([1, 2, 2, 4]), t([1, 2, 2, 8]))],
  sigmoidBce: [() => F.sigmoidBce(t([2, 2, 2, 1]), t([2, 2, 2, 1], false), t([2], false))],
  l2Normalize: [() => F.l2Normalize(t([3, 4]))],
  topkMask: [() => F.topkMask(t([3, 4]), 2)],
};

/** The kernels one call of an op's forward and backward (its tape node, on a seed of ones) reach. */
function kernelsOf(run: () => Tensor<S>): Set<string> {
  return scope(() => {
    calls.clear();
    const y = run();
    const reached = new Set(calls);
    if (y.node) {
      const seed = Tensor.full(recording, y.shape, 1);
      calls.clear();
      y.node.backward(seed);
      for (const k of calls) reached.add(k);
    }
    return reached;
  });
}

describe('op table', () => {
  it('has samples for every op', () => {
    expect(Object.keys(samples).sort()).toEqual(Object.keys(opRules).sort());
  });

  for (const [name, entry] of Object.entries(opRules)) {
    it(`${name} calls exactly the kernels its entry names`, () => {
      const reached = new Set<string>();
      // Inputs are made before the op runs: uploads are storage, not kernels.
      for (const run of samples[name as keyof typeof opRules]) for (const k of kernelsOf(run)) reached.add(k);
      expect([...reached].sort()).toEqual(entry.kernels.map((k) => k.id).sort());
    });
  }

  it('names every kernel of the shared table (adam: the optimizer)', () => {
    const named = new Set(['adam', ...Object.values(opRules).flatMap((e) => e.kernels.map((k) => k.id))]);
    const table = Object.values(K) as KernelDef[];
    expect(table.length).toBeGreaterThan(20);
    expect(table.map((k) => k.id).filter((id) => !named.has(id))).toEqual([]);
  });

  it('names each kernel of the shared table by its export', () => {
    for (const [name, k] of Object.entries(K)) expect((k as KernelDef).id).toBe(name);
  });
});
