// CPU reference: the input and weight gradients of conv2d (NHWC activations, HWIO weights, zero
// padding). Plain loops over the forward's definition in float64: every product x * w that made an
// output is visited once (forEachTap) and its share of dy is sent back to both factors. The test oracle
// of the GPU kernels, written as a scatter so that it shares nothing with their gather formulation.
import type { Conv2dGeometry } from '../../core/geometry.js';
import { forEachTap } from './conv2d.js';

/**
 * dx[n, ih, iw, ci] = sum of dy[n, oh, ow, co] * w[i, j, ci, co] over every (oh, ow, i, j, co) with
 * ih = oh*s - p + i and iw = ow*s - p + j: the transposed convolution. Pixels no tap reaches stay 0.
 */
export function conv2dInputGrad(dy: Float64Array, w: Float64Array, g: Conv2dGeometry): Float64Array {
  const { cin, cout } = g;
  const dx = new Float64Array(g.n * g.h * g.w * cin);
  forEachTap(g, (dyBase, dxBase, wBase) => {
    for (let ci = 0; ci < cin; ci++) {
      let acc = 0;
      for (let co = 0; co < cout; co++) acc += dy[dyBase + co]! * w[wBase + ci * cout + co]!;
      dx[dxBase + ci] += acc;
    }
  });
  return dx;
}

/** dw[i, j, ci, co] = sum over n, oh, ow of x[n, oh*s - p + i, ow*s - p + j, ci] * dy[n, oh, ow, co]. */
export function conv2dWeightGrad(x: Float64Array, dy: Float64Array, g: Conv2dGeometry): Float64Array {
  const { cin, cout } = g;
  const dw = new Float64Array(g.kh * g.kw * cin * cout);
  forEachTap(g, (dyBase, xBase, wBase) => {
    for (let ci = 0; ci < cin; ci++) {
      const xv = x[xBase + ci]!;
      for (let co = 0; co < cout; co++) dw[wBase + ci * cout + co] += xv * dy[dyBase + co]!;
    }
  });
  return dw;
}
