// CPU reference: the input and weight gradients of conv2d (NHWC activations, HWIO weights, zero
// padding). Plain loops over the forward's definition in float64: every product x * w that made an
// output is visited once and its share of dy is sent back to both factors. The test oracle of the GPU
// kernels, written as a scatter so that it shares nothing with their gather formulation.
import type { Conv2dGeometry } from '../../core/geometry.js';

/**
 * dx[n, ih, iw, ci] = sum of dy[n, oh, ow, co] * w[i, j, ci, co] over every (oh, ow, i, j, co) with
 * ih = oh*s - p + i and iw = ow*s - p + j: the transposed convolution. Pixels no tap reaches stay 0.
 */
export function conv2dInputGrad(dy: Float64Array, w: Float64Array, g: Conv2dGeometry): Float64Array {
  const { n, h, w: wd, cin, cout, kh, kw, stride, pad, oh, ow } = g;
  const dx = new Float64Array(n * h * wd * cin);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        const dyBase = ((b * oh + r) * ow + c) * cout;
        for (let i = 0; i < kh; i++) {
          const ih = r * stride - pad + i;
          if (ih < 0 || ih >= h) continue; // the tap read zero padding: nothing flows back
          for (let j = 0; j < kw; j++) {
            const iw = c * stride - pad + j;
            if (iw < 0 || iw >= wd) continue;
            const dxBase = ((b * h + ih) * wd + iw) * cin;
            const wBase = (i * kw + j) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              let acc = 0;
              for (let co = 0; co < cout; co++) acc += dy[dyBase + co]! * w[wBase + ci * cout + co]!;
              dx[dxBase + ci] += acc;
            }
          }
        }
      }
    }
  }
  return dx;
}

/** dw[i, j, ci, co] = sum over n, oh, ow of x[n, oh*s - p + i, ow*s - p + j, ci] * dy[n, oh, ow, co]. */
export function conv2dWeightGrad(x: Float64Array, dy: Float64Array, g: Conv2dGeometry): Float64Array {
  const { n, h, w: wd, cin, cout, kh, kw, stride, pad, oh, ow } = g;
  const dw = new Float64Array(kh * kw * cin * cout);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        const dyBase = ((b * oh + r) * ow + c) * cout;
        for (let i = 0; i < kh; i++) {
          const ih = r * stride - pad + i;
          if (ih < 0 || ih >= h) continue;
          for (let j = 0; j < kw; j++) {
            const iw = c * stride - pad + j;
            if (iw < 0 || iw >= wd) continue;
            const xBase = ((b * h + ih) * wd + iw) * cin;
            const wBase = (i * kw + j) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const xv = x[xBase + ci]!;
              for (let co = 0; co < cout; co++) dw[wBase + ci * cout + co] += xv * dy[dyBase + co]!;
            }
          }
        }
      }
    }
  }
  return dw;
}
