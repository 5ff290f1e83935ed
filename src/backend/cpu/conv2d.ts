// CPU reference: conv2d forward (NHWC input, HWIO weights, zero padding), and the walk over taps the
// forward and both gradients share (the bias gradient is derived from reduceSum: ../kernels.ts). Plain
// loops over the definition in float64; the test oracle of the GPU kernels.
import type { Conv2dGeometry } from '../../core/geometry.js';

/**
 * Calls `visit` for every output pixel and every kernel tap that reads the input (a tap on zero padding
 * contributes nothing), in the order n, oh, ow, i, j, with the offsets of the output pixel's channels
 * (y, dy), of the input pixel the tap reads (x, dx) and of the tap's [cin, cout] block of w.
 */
export function forEachTap(g: Conv2dGeometry, visit: (outBase: number, inBase: number, wBase: number) => void): void {
  const { n, h, w: wd, cin, cout, kh, kw, stride, pad, oh, ow } = g;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        const outBase = ((b * oh + r) * ow + c) * cout;
        for (let i = 0; i < kh; i++) {
          const ih = r * stride - pad + i;
          if (ih < 0 || ih >= h) continue;
          for (let j = 0; j < kw; j++) {
            const iw = c * stride - pad + j;
            if (iw < 0 || iw >= wd) continue;
            visit(outBase, ((b * h + ih) * wd + iw) * cin, (i * kw + j) * cin * cout);
          }
        }
      }
    }
  }
}

/** y[n, oh, ow, co] = bias[co] + sum over i, j, ci of x[n, oh*s - p + i, ow*s - p + j, ci] * w[i, j, ci, co]. */
export function conv2d(x: Float64Array, w: Float64Array, bias: Float64Array | null, g: Conv2dGeometry): Float64Array {
  const { cin, cout } = g;
  const y = new Float64Array(g.n * g.oh * g.ow * cout);
  if (bias) for (let p = 0; p < y.length; p += cout) y.set(bias.subarray(0, cout), p);
  forEachTap(g, (yBase, xBase, wBase) => {
    for (let ci = 0; ci < cin; ci++) {
      const xv = x[xBase + ci]!;
      for (let co = 0; co < cout; co++) y[yBase + co] += xv * w[wBase + ci * cout + co]!;
    }
  });
  return y;
}
