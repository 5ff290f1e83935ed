// CPU reference: max-pool 2d (NHWC) and its backward, in float64 with plain loops.
import type { PoolGeometry } from '../../core/geometry.js';

/**
 * Index into x of the first maximum of window (oy, ox) in channel ch: positions outside the input are
 * padding (-inf) and are skipped; a later element must be strictly greater to win a tie.
 */
function windowArgmax(x: Float64Array, g: PoolGeometry, n: number, oy: number, ox: number, ch: number): number {
  let best = -Infinity;
  let at = -1;
  for (let i = 0; i < g.k; i++) {
    const y = oy * g.stride - g.pad + i;
    if (y < 0 || y >= g.h) continue;
    for (let j = 0; j < g.k; j++) {
      const xx = ox * g.stride - g.pad + j;
      if (xx < 0 || xx >= g.w) continue;
      const idx = ((n * g.h + y) * g.w + xx) * g.c + ch;
      if (at < 0 || x[idx]! > best) {
        best = x[idx]!;
        at = idx;
      }
    }
  }
  return at;
}

export function maxPool2d(x: Float64Array, g: PoolGeometry): Float64Array {
  const out = new Float64Array(g.n * g.oh * g.ow * g.c);
  let o = 0;
  for (let n = 0; n < g.n; n++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        for (let ch = 0; ch < g.c; ch++) out[o++] = x[windowArgmax(x, g, n, oy, ox, ch)]!;
      }
    }
  }
  return out;
}

/** Walks the windows and adds each one's dy to its first maximum (the GPU gathers instead). */
export function maxPool2dBackward(x: Float64Array, dy: Float64Array, g: PoolGeometry): Float64Array {
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  let o = 0;
  for (let n = 0; n < g.n; n++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        for (let ch = 0; ch < g.c; ch++) dx[windowArgmax(x, g, n, oy, ox, ch)]! += dy[o++]!;
      }
    }
  }
  return dx;
}
