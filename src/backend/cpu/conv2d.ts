// CPU reference: conv2d forward (NHWC input, HWIO weights, zero padding) and its bias gradient.
// Plain loops over the definition in float64; the test oracle of the GPU kernels.
import type { Conv2dGeometry } from '../../core/geometry.js';

/** y[n, oh, ow, co] = bias[co] + sum over i, j, ci of x[n, oh*s - p + i, ow*s - p + j, ci] * w[i, j, ci, co]. */
export function conv2d(x: Float64Array, w: Float64Array, bias: Float64Array | null, g: Conv2dGeometry): Float64Array {
  const { n, h, w: wd, cin, cout, kh, kw, stride, pad, oh, ow } = g;
  const y = new Float64Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        const yBase = ((b * oh + r) * ow + c) * cout;
        for (let co = 0; co < cout; co++) {
          let acc = bias ? bias[co]! : 0;
          for (let i = 0; i < kh; i++) {
            const ih = r * stride - pad + i;
            if (ih < 0 || ih >= h) continue; // zero padding
            for (let j = 0; j < kw; j++) {
              const iw = c * stride - pad + j;
              if (iw < 0 || iw >= wd) continue;
              const xBase = ((b * h + ih) * wd + iw) * cin;
              const wBase = (i * kw + j) * cin * cout;
              for (let ci = 0; ci < cin; ci++) acc += x[xBase + ci]! * w[wBase + ci * cout + co]!;
            }
          }
          y[yBase + co] = acc;
        }
      }
    }
  }
  return y;
}

/** dbias[co] = sum over n, oh, ow of dy[n, oh, ow, co]. */
export function conv2dBiasGrad(dy: Float64Array, g: Conv2dGeometry): Float64Array {
  const pixels = g.n * g.oh * g.ow;
  const db = new Float64Array(g.cout);
  for (let p = 0; p < pixels; p++) {
    for (let co = 0; co < g.cout; co++) db[co] += dy[p * g.cout + co]!;
  }
  return db;
}
