// Both conv2d gradients through the tape: float64 finite differences on the reference, and the GPU's
// backward against the reference's (the kernels themselves: conv2dInputGrad.test.ts, conv2dWeightGrad.test.ts).
import { describe, expect, it } from 'vitest';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import { conv2dGeometry, sizeOf } from '../../src/core/geometry.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

describe('conv2d gradients (float64 finite differences on the reference)', () => {
  const cases: [string, number[], number[], number, number, boolean][] = [
    ['3x3/1 with bias, 5x7', [2, 5, 7, 3], [3, 3, 3, 4], 1, 1, true],
    ['3x3/1 unpadded, 5x7', [1, 5, 7, 2], [3, 3, 2, 3], 1, 0, false],
    ['3x3/2 with bias, 7x9', [2, 7, 9, 3], [3, 3, 3, 5], 2, 1, true],
    ['3x3/2 unpadded, 8x9', [1, 8, 9, 2], [3, 3, 2, 3], 2, 0, false],
    ['7x7/2 pad 3, 9x7', [1, 9, 7, 2], [7, 7, 2, 3], 2, 3, false],
    ['1x1/2 with bias, 7x9', [2, 7, 9, 3], [1, 1, 3, 4], 2, 0, true],
  ];
  for (const [name, xs, ws, stride, pad, hasBias] of cases) {
    it(name, () => {
      const r = rng(xs.length + ws[0]! * 7 + stride);
      const inputs = [
        { values: uniform(r, sizeOf(xs)), shape: xs },
        { values: uniform(r, sizeOf(ws)), shape: ws },
        ...(hasBias ? [{ values: uniform(r, ws[3]!), shape: [ws[3]!] }] : []),
      ];
      const res = gradcheck((x, w, b) => F.conv2d(x!, w!, b ?? null, stride, pad), inputs);
      expect(res.ok, res.detail).toBe(true);
      expect(res.checked).toBeGreaterThan(64);
    });
  }
});

describe('GPU backward against the reference backward', () => {
  it.each([
    ['3x3/2 with bias, 5 -> 7, 7x9', [3, 7, 9, 5], [3, 3, 5, 7], 2, 1],
    ['3x3/1 with bias, 16 -> 16, 13x11', [1, 13, 11, 16], [3, 3, 16, 16], 1, 1],
  ] as const)('%s: dx, dw and dbias through the tape', async (_name, xs, ws, stride, pad) => {
    const r = rng(77);
    const x = uniform(r, sizeOf(xs));
    const w = uniform(r, sizeOf(ws));
    const b = uniform(r, ws[3]);
    const g = conv2dGeometry(xs, ws, stride, pad, true);
    const ys = [g.n, g.oh, g.ow, g.cout];
    const dy = uniform(r, sizeOf(ys));
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const tx = Tensor.from(backend, x, xs, true);
        const tw = Tensor.from(backend, w, ws, true);
        const tb = Tensor.from(backend, b, [ws[3]], true);
        F.conv2d(tx, tw, tb, stride, pad).backward(Tensor.from(backend, dy, ys));
        return [tx.grad!, tw.grad!, tb.grad!];
      });
    const [gx, gw, gb] = await run(ctx.be);
    const [rx, rw, rb] = await run(ctx.cpu);
    const f64 = (a: Float32Array) => Float64Array.from(abs(a));
    const pixels = g.n * g.oh * g.ow;
    // Same bounds as the kernel tests: taps*cout products per dx, n*oh*ow per dw and dbias.
    expectClose(gx!, rx!, K.conv2dInputGrad(ctx.cpu, f64(dy), f64(w), g), 2 * ws[0] * ws[1] * ws[3], 'dx', 0);
    expectClose(gw!, rw!, K.conv2dWeightGrad(ctx.cpu, f64(x), f64(dy), g), pixels + 2, 'dw', 0);
    expectClose(gb!, rb!, K.conv2dBiasGrad(ctx.cpu, f64(dy), g), pixels + 2, 'dbias', 0);
  });
});
