import { describe, expect, it } from 'vitest';
import { F, Tensor, noGrad, scope } from '../../src/autograd/index.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

describe('tape', () => {
  it('backpropagates through a shared subexpression (gradients add up)', async () => {
    const x = Tensor.from(ctx.cpu, [1, 2, 3], [3], true);
    // y = sum(x*x + x) -> dy/dx = 2x + 1
    scope(() => F.sum(F.add(F.mul(x, x), x)).backward());
    expect(Array.from(await x.grad!.toArray())).toEqual([3, 5, 7]);
  });

  it('accumulates leaf gradients over two backward passes', async () => {
    const x = Tensor.from(ctx.cpu, [1, -2], [2], true);
    scope(() => F.sum(F.scale(x, 3)).backward());
    scope(() => F.sum(F.scale(x, 3)).backward());
    expect(Array.from(await x.grad!.toArray())).toEqual([6, 6]);
  });

  it('records nothing under noGrad', () => {
    const x = Tensor.from(ctx.cpu, [1, 2], [2], true);
    const y = noGrad(() => F.mul(x, x));
    expect(y.node).toBeNull();
    expect(y.requiresGrad).toBe(false);
  });

  it('reshape passes the gradient back in the original shape', async () => {
    const x = Tensor.from(ctx.cpu, [1, 2, 3, 4, 5, 6], [2, 3], true);
    const w = Tensor.from(ctx.cpu, [1, 10, 100], [3], false);
    scope(() => F.sum(F.mul(x.reshape([3, 2]).reshape([2, 3]), w)).backward());
    expect(x.grad!.shape).toEqual([2, 3]);
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 10, 100, 1, 10, 100]);
  });

  it('refuses backward from a non-scalar without a seed', () => {
    const x = Tensor.from(ctx.cpu, [1, 2], [2], true);
    expect(() => scope(() => F.mul(x, x).backward())).toThrow(/scalar/);
    // A scope is synchronous: held open across an await it would collect other work's tensors.
    expect(() => scope(async () => F.sum(x))).toThrow(/must be synchronous/);
  });

  it('a step scope returns every intermediate GPU buffer to the pool', async () => {
    const x = Tensor.from(ctx.be, new Float32Array(4096).fill(0.5), [64, 64], true).keep();
    const w = Tensor.from(ctx.be, new Float32Array(4096).fill(0.25), [64, 64], true).keep();
    const before = ctx.gpu.pool.getStats().inUseBytes;
    const step = () =>
      scope(() => {
        const loss = F.mean(F.relu(F.matmul(F.add(x, w), w)));
        loss.backward();
        return { pending: loss.toArray() };
      });
    const first = await step().pending;
    // The leaves' gradients are kept; everything else went back.
    const withGrads = ctx.gpu.pool.getStats().inUseBytes;
    expect(withGrads - before).toBe(2 * 4096 * 4);
    x.grad!.dispose();
    w.grad!.dispose();
    x.grad = w.grad = null;
    const created = ctx.gpu.pool.getStats().created;
    const second = await step().pending;
    // A steady second step allocates nothing new.
    expect(ctx.gpu.pool.getStats().created).toBe(created);
    expect(second[0]).toBe(first[0]);
    expect(first[0]).toBeCloseTo(0.75 * 0.25 * 64, 4);
  });
});
