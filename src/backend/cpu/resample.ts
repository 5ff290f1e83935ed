// CPU reference: nearest upsampling by 2 and channel concat (NHWC), in float64 with plain loops.
import type { SpatialGeometry } from '../../core/geometry.js';

/** out[n, 2y + a, 2x + b, ch] = x[n, y, x, ch] for a, b in {0, 1}. */
export function upsample2x(x: Float64Array, g: SpatialGeometry): Float64Array {
  const oh = 2 * g.h;
  const ow = 2 * g.w;
  const out = new Float64Array(g.n * oh * ow * g.c);
  let o = 0;
  for (let n = 0; n < g.n; n++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const src = ((n * g.h + Math.floor(y / 2)) * g.w + Math.floor(xx / 2)) * g.c;
        for (let ch = 0; ch < g.c; ch++) out[o++] = x[src + ch]!;
      }
    }
  }
  return out;
}

/** dx[n, y, x, ch] = sum of dy over the 2x2 block that x[n, y, x, ch] was copied to. */
export function upsample2xBackward(dy: Float64Array, g: SpatialGeometry): Float64Array {
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  const oh = 2 * g.h;
  const ow = 2 * g.w;
  let o = 0;
  for (let n = 0; n < g.n; n++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const dst = ((n * g.h + Math.floor(y / 2)) * g.w + Math.floor(xx / 2)) * g.c;
        for (let ch = 0; ch < g.c; ch++) dx[dst + ch]! += dy[o++]!;
      }
    }
  }
  return dx;
}

function checkConcat(g: SpatialGeometry, ca: number): void {
  if (g.c !== ca) throw new Error(`concatChannels: the geometry's ${g.c} channels must be those of the first input (${ca})`);
}

/** out[..., 0:ca] = a, out[..., ca:ca+cb] = b; g gives n, h, w (g.c is ca). */
export function concatChannels(a: Float64Array, b: Float64Array, g: SpatialGeometry, ca: number, cb: number): Float64Array {
  checkConcat(g, ca);
  const pixels = g.n * g.h * g.w;
  const out = new Float64Array(pixels * (ca + cb));
  let o = 0;
  for (let px = 0; px < pixels; px++) {
    for (let j = 0; j < ca; j++) out[o++] = a[px * ca + j]!;
    for (let j = 0; j < cb; j++) out[o++] = b[px * cb + j]!;
  }
  return out;
}

export function concatChannelsBackward(dy: Float64Array, g: SpatialGeometry, ca: number, cb: number): { da: Float64Array; db: Float64Array } {
  checkConcat(g, ca);
  const pixels = g.n * g.h * g.w;
  const da = new Float64Array(pixels * ca);
  const db = new Float64Array(pixels * cb);
  let o = 0;
  for (let px = 0; px < pixels; px++) {
    for (let j = 0; j < ca; j++) da[px * ca + j] = dy[o++]!;
    for (let j = 0; j < cb; j++) db[px * cb + j] = dy[o++]!;
  }
  return { da, db };
}
