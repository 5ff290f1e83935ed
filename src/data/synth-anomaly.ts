// Synthetic anomalies on normal images (METHOD.md, "Synthetic anomalies on normals"): a defect shape, a
// blob of thresholded smooth noise or sometimes a thin scratch, filled from another image or texture and
// blended into a normal one, with a mask that covers exactly the changed pixels. Host-side data loading,
// like crop-and-paste: typed arrays, one pass over the pixels for the blend.
import { saltOf, valueNoise } from './synth-textures.js';
import type { Rng } from '../util/random.js';

const CHANNELS = 3;

export interface AnomalyOptions {
  size: number;
  /** The defect's area is an integer pixel count in [ceil(minArea * size^2), floor(maxArea * size^2)]. */
  minArea: number;
  maxArea: number;
}

export interface Anomaly {
  /** HWC RGB in [0, 1]: the normal image, changed exactly where mask is 1. */
  image: Float32Array;
  /** 0/1 per pixel; one 8-connected component, never empty. */
  mask: Uint8Array;
  /** Whether the shape is a thin scratch (else a blob). */
  thin: boolean;
}

/**
 * Every masked pixel differs from the normal image by at least this much in at least one channel (the
 * same 6% of full scale as synth.ts's CONTRAST_MIN): a defect the target calls a defect must show.
 */
export const MIN_VISIBLE_STEP = 0.06;
/**
 * What a masked pixel the blend left within MIN_VISIBLE_STEP is pushed by, in every channel: 1/16 is exact
 * in float32 and n +- 1/16 rounds to within 2^-25 of itself for n in [0, 1], so the step stays above 0.06.
 */
export const PUSH_STEP = 1 / 16;
/** Share of thin shapes (scratches), where the area range allows one (see syntheticAnomaly). */
export const THIN_PROBABILITY = 1 / 3;
/** A scratch is 1 to this many px wide... */
export const MAX_THIN_WIDTH = 3;
/** ...and at most this many image widths long: a chord through the central half is at least 0.5. */
export const MAX_THIN_LENGTH = 0.75;
/** The scratch's curvature is at most this over the image size (rad per px): gentle arcs that never fold. */
const MAX_BEND = 1.5;
/** Px per step of the scratch's walk: under 1, so consecutive stamps touch (8-connected). */
const WALK_STEP = 0.5;
/** Starts tried for a scratch before the shape falls back to a blob. */
const THIN_ATTEMPTS = 8;
/** Value-noise lattice cells across the image: the blobs' scale. */
const MIN_CELLS = 2;
const MAX_CELLS = 5;
const SECOND_OCTAVE_PROBABILITY = 0.5;
const SECOND_OCTAVE_WEIGHT = 0.5;
/** The fill's brightness is scaled by a gain in [1 - GAIN_RANGE, 1 + GAIN_RANGE] with this probability. */
const BRIGHTNESS_PROBABILITY = 0.5;
const GAIN_RANGE = 0.4;
/** The fill is blended in with one opacity in [MIN_OPACITY, 1] over the whole shape (alpha 0 outside). */
const MIN_OPACITY = 0.6;

/**
 * A normal image with a synthetic defect. The shape's area A is drawn uniformly from the integers in
 * [ceil(minArea * size^2), floor(maxArea * size^2)] (at least 1) and met exactly:
 * - with probability THIN_PROBABILITY, a scratch: a gently curved walk stamped w x w (w in 1..3), drawn
 *   both ways from a start in the central half until it holds A pixels; A is then drawn from the part
 *   of the range at most w * floor(MAX_THIN_LENGTH * size). Where that part is empty, or no start of
 *   THIN_ATTEMPTS fits the scratch in the image, the shape is a blob of the same A instead;
 * - else a blob: smooth value noise (2 to 5 lattice cells across, a second octave half the time), grown
 *   from the local maximum above a random pixel in decreasing noise order (a priority flood) until it
 *   holds A pixels: the seed's component of {noise >= t}, the threshold t lowered to the area's quantile
 *   within the component. One component by construction; no other component is kept.
 * The fill is `fill` at a random wrap-around offset, with a random gain half the time, blended with one
 * opacity over the shape; masked pixels that moved by less than MIN_VISIBLE_STEP are pushed by PUSH_STEP
 * in every channel (in the blend's direction where there is room); pixels outside the mask are copied.
 * Draws from r only: shape (thin?, then width, area, walk or area, noise, seed), then offset, gain, opacity.
 */
export function syntheticAnomaly(normal: Float32Array, fill: Float32Array, o: AnomalyOptions, r: Rng): Anomaly {
  const { size } = o;
  const [lo, hi] = areaRange(o);
  checkImage('normal', normal, size);
  checkImage('fill', fill, size);
  let mask: Uint8Array | null = null;
  let area = 0;
  if (r() < THIN_PROBABILITY) {
    const width = 1 + randomInt(r, MAX_THIN_WIDTH);
    const thinHi = Math.min(hi, width * Math.floor(MAX_THIN_LENGTH * size));
    if (lo <= thinHi) {
      area = lo + randomInt(r, thinHi - lo + 1);
      mask = thinMask(size, area, width, r);
    } else {
      area = lo + randomInt(r, hi - lo + 1);
    }
  } else {
    area = lo + randomInt(r, hi - lo + 1);
  }
  const thin = mask !== null;
  mask ??= blobMask(size, area, r);
  return { image: blend(normal, fill, mask, size, r), mask, thin };
}

function blend(normal: Float32Array, fill: Float32Array, mask: Uint8Array, size: number, r: Rng): Float32Array {
  const dy = randomInt(r, size);
  const dx = randomInt(r, size);
  const gain = r() < BRIGHTNESS_PROBABILITY ? 1 + GAIN_RANGE * (2 * r() - 1) : 1;
  const opacity = MIN_OPACITY + (1 - MIN_OPACITY) * r();
  const image = normal.slice();
  const v = [0, 0, 0];
  for (let y = 0; y < size; y++) {
    const fy = (y + dy) % size;
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      if (!mask[p]) continue;
      const o = p * CHANNELS;
      const f = (fy * size + ((x + dx) % size)) * CHANNELS;
      let step = 0;
      for (let c = 0; c < CHANNELS; c++) {
        const n = normal[o + c]!;
        const source = Math.min(1, fill[f + c]! * gain);
        v[c] = Math.fround(Math.min(1, Math.max(0, n + opacity * (source - n))));
        step = Math.max(step, Math.abs(v[c]! - n));
      }
      for (let c = 0; c < CHANNELS; c++) {
        const n = normal[o + c]!;
        const up = (v[c]! >= n && n + PUSH_STEP <= 1) || n - PUSH_STEP < 0;
        image[o + c] = step >= MIN_VISIBLE_STEP ? v[c]! : up ? n + PUSH_STEP : n - PUSH_STEP;
      }
    }
  }
  return image;
}

/** A scratch of exactly `area` pixels, width x width stamps along a gentle arc; null when none fits. */
function thinMask(size: number, area: number, width: number, r: Rng): Uint8Array | null {
  const low = -Math.floor((width - 1) / 2);
  const maxSteps = Math.ceil((2 * size) / WALK_STEP);
  for (let attempt = 0; attempt < THIN_ATTEMPTS; attempt++) {
    const mask = new Uint8Array(size * size);
    const startY = size / 4 + (r() * size) / 2;
    const startX = size / 4 + (r() * size) / 2;
    const heading = 2 * Math.PI * r();
    const bend = ((2 * r() - 1) * MAX_BEND) / size;
    let count = 0;
    // Forward along the arc, then backward from the start continuing the same arc (curvature negated).
    for (const [turn, sign] of [[0, 1], [Math.PI, -1]] as const) {
      let [y, x, a] = [startY, startX, heading + turn];
      for (let s = 0; s < maxSteps && count < area; s++) {
        const [py, px] = [Math.round(y), Math.round(x)];
        if (py < 0 || px < 0 || py >= size || px >= size) break;
        for (let sy = py + low; sy < py + low + width && count < area; sy++) {
          for (let sx = px + low; sx < px + low + width && count < area; sx++) {
            if (sy < 0 || sx < 0 || sy >= size || sx >= size || mask[sy * size + sx]) continue;
            mask[sy * size + sx] = 1;
            count++;
          }
        }
        y += WALK_STEP * Math.sin(a);
        x += WALK_STEP * Math.cos(a);
        a += sign * bend * WALK_STEP;
      }
    }
    if (count === area) return mask;
  }
  return null;
}

/** A blob of exactly `area` pixels: a priority flood over smooth noise from a local maximum. */
function blobMask(size: number, area: number, r: Rng): Uint8Array {
  const cells = MIN_CELLS + randomInt(r, MAX_CELLS - MIN_CELLS + 1);
  const salt = saltOf(r);
  const [oy, ox] = [r(), r()];
  const octaves = r() < SECOND_OCTAVE_PROBABILITY ? 2 : 1;
  const noise = new Float32Array(size * size);
  const scale = cells / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [u, v] = [x * scale + ox, y * scale + oy];
      let n = valueNoise(u, v, salt);
      if (octaves === 2) n += SECOND_OCTAVE_WEIGHT * valueNoise(2 * u, 2 * v, salt + 1);
      noise[y * size + x] = n;
    }
  }
  let seed = randomInt(r, size * size);
  for (let next = highestNeighbour(noise, size, seed); noise[next]! > noise[seed]!; ) {
    seed = next;
    next = highestNeighbour(noise, size, seed);
  }
  const mask = new Uint8Array(size * size);
  const queued = new Uint8Array(size * size);
  const heap = new MaxHeap(noise);
  heap.push(seed);
  queued[seed] = 1;
  // The grid is connected and area <= size^2, so the flood reaches `area` before the heap runs dry.
  for (let count = 0; count < area; count++) {
    const p = heap.pop();
    mask[p] = 1;
    forNeighbours(size, p, (q) => {
      if (queued[q]) return;
      queued[q] = 1;
      heap.push(q);
    });
  }
  return mask;
}

function forNeighbours(size: number, p: number, visit: (q: number) => void): void {
  const y = Math.floor(p / size);
  const x = p - y * size;
  for (let ny = Math.max(0, y - 1); ny <= Math.min(size - 1, y + 1); ny++) {
    for (let nx = Math.max(0, x - 1); nx <= Math.min(size - 1, x + 1); nx++) {
      if (ny !== y || nx !== x) visit(ny * size + nx);
    }
  }
}

/** The 8-neighbour with the highest noise (the first in raster order on ties). */
function highestNeighbour(noise: Float32Array, size: number, p: number): number {
  let best = -1;
  forNeighbours(size, p, (q) => {
    if (best < 0 || noise[q]! > noise[best]!) best = q;
  });
  return best < 0 ? p : best;
}

/** A binary max-heap of pixel indices keyed by their noise; ties go to the lower index, so it is deterministic. */
class MaxHeap {
  private items: number[] = [];
  constructor(private readonly key: Float32Array) {}

  private above(a: number, b: number): boolean {
    const [ka, kb] = [this.key[a]!, this.key[b]!];
    return ka > kb || (ka === kb && a < b);
  }

  push(p: number): void {
    const items = this.items;
    let i = items.push(p) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length === 0) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const [l, rr] = [2 * i + 1, 2 * i + 2];
      let best = i;
      if (l < items.length && this.above(items[l]!, items[best]!)) best = l;
      if (rr < items.length && this.above(items[rr]!, items[best]!)) best = rr;
      if (best === i) break;
      [items[i], items[best]] = [items[best]!, items[i]!];
      i = best;
    }
    return top;
  }
}

/** The area's pixel-count range; throws where the options leave none. */
function areaRange(o: AnomalyOptions): [number, number] {
  const { size, minArea, maxArea } = o;
  if (!Number.isInteger(size) || size <= 0) throw new Error(`syntheticAnomaly: bad size ${size}`);
  if (!(minArea > 0 && minArea <= maxArea && maxArea <= 1)) {
    throw new Error(`syntheticAnomaly: need 0 < minArea <= maxArea <= 1, got ${minArea}, ${maxArea}`);
  }
  const lo = Math.max(1, Math.ceil(minArea * size * size));
  const hi = Math.floor(maxArea * size * size);
  if (lo > hi) throw new Error(`syntheticAnomaly: no whole pixel count in [${minArea}, ${maxArea}] of ${size}x${size}`);
  return [lo, hi];
}

function checkImage(name: string, image: Float32Array, size: number): void {
  if (image.length !== size * size * CHANNELS) {
    throw new Error(`syntheticAnomaly: ${name} has ${image.length} values, not ${size}x${size}x3`);
  }
  for (let i = 0; i < image.length; i++) {
    if (!(image[i]! >= 0 && image[i]! <= 1)) throw new Error(`syntheticAnomaly: ${name}[${i}] = ${image[i]} not in [0, 1]`);
  }
}

/** A uniform integer in 0..n-1 from one draw (the min guards r() rounding up to 1). */
function randomInt(r: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(r() * n));
}
