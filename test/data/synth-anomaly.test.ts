import { describe, expect, it } from 'vitest';
import { connectedComponents } from '../../src/data/components.js';
import {
  MAX_THIN_LENGTH,
  MAX_THIN_WIDTH,
  MIN_VISIBLE_STEP,
  PUSH_STEP,
  syntheticAnomaly,
  type AnomalyOptions,
} from '../../src/data/synth-anomaly.js';
import { rng, uniform } from '../../src/util/random.js';

const CHANNELS = 3;
const SEEDS = Array.from({ length: 200 }, (_, i) => i);
const MIN_AREA = 0.002;
const MAX_AREA = 0.05;
const options = (size: number): AnomalyOptions => ({ size, minArea: MIN_AREA, maxArea: MAX_AREA });
const constant = (size: number, value: number): Float32Array => new Float32Array(size * size * CHANNELS).fill(value);
const count = (mask: Uint8Array): number => mask.reduce((a, b) => a + b, 0);

/** Pixels of the mask that are the centre of a fully set 5x5 window: 0 for a shape at most 4 px wide. */
function interior(mask: Uint8Array, size: number): number {
  let n = 0;
  for (let y = 2; y < size - 2; y++) {
    for (let x = 2; x < size - 2; x++) {
      let all = true;
      for (let dy = -2; dy <= 2 && all; dy++) for (let dx = -2; dx <= 2 && all; dx++) all = !!mask[(y + dy) * size + x + dx];
      if (all) n++;
    }
  }
  return n;
}

function centroid(mask: Uint8Array, size: number): [number, number] {
  let [sy, sx, n] = [0, 0, 0];
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    sy += Math.floor(p / size);
    sx += p % size;
    n++;
  }
  return [sy / n, sx / n];
}

const spread = (v: number[]): number => Math.max(...v) - Math.min(...v);

describe('syntheticAnomaly', () => {
  for (const size of [64, 256]) {
    it(`at ${size}: exact mask, area in range, one component, visible step, [0, 1], over 200 seeds`, () => {
      const lo = Math.ceil(MIN_AREA * size * size);
      const hi = Math.floor(MAX_AREA * size * size);
      let thinCount = 0;
      for (const seed of SEEDS) {
        const normal = uniform(rng(1000 + seed), size * size * CHANNELS, 0, 1);
        const fill = uniform(rng(2000 + seed), size * size * CHANNELS, 0, 1);
        const { image, mask, thin } = syntheticAnomaly(normal, fill, options(size), rng(seed));
        const area = count(mask);
        expect(area).toBeGreaterThanOrEqual(lo);
        expect(area).toBeLessThanOrEqual(hi);
        expect(connectedComponents(mask, size, size).count).toBe(1);
        const [inBits, outBits] = [new Uint32Array(normal.buffer), new Uint32Array(image.buffer)];
        let [outsideChanged, insideWeak, outOfRange] = [0, 0, 0];
        for (let p = 0; p < size * size; p++) {
          let step = 0;
          for (let c = p * CHANNELS; c < (p + 1) * CHANNELS; c++) {
            if (!mask[p] && outBits[c] !== inBits[c]) outsideChanged++;
            if (!(image[c]! >= 0 && image[c]! <= 1)) outOfRange++;
            step = Math.max(step, Math.abs(image[c]! - normal[c]!));
          }
          if (mask[p] && step < MIN_VISIBLE_STEP) insideWeak++;
        }
        expect({ seed, outsideChanged, insideWeak, outOfRange }).toEqual({ seed, outsideChanged: 0, insideWeak: 0, outOfRange: 0 });
        // Thin: a scratch at most MAX_THIN_WIDTH wide (no full 5x5 window) and MAX_THIN_LENGTH long.
        // Blobs of 150 px or more (a 12 x 12 disc) are not thin.
        if (thin) {
          thinCount++;
          expect(interior(mask, size)).toBe(0);
          expect(area).toBeLessThanOrEqual(MAX_THIN_WIDTH * Math.floor(MAX_THIN_LENGTH * size));
        } else if (area >= 150) {
          expect(interior(mask, size)).toBeGreaterThan(0);
        }
      }
      // A third are scratches (the range allows one at both sizes): 66.7 expected, sd 6.7.
      expect(thinCount).toBeGreaterThanOrEqual(40);
      expect(thinCount).toBeLessThanOrEqual(95);
    });
  }

  it('pushes a fill equal to the background by PUSH_STEP: a black fill on black gives exactly 1/16 inside', () => {
    const size = 64;
    for (const seed of SEEDS.slice(0, 20)) {
      // 0 * any gain is 0, so the blend changes nothing and every masked pixel is pushed up.
      const { image, mask } = syntheticAnomaly(constant(size, 0), constant(size, 0), options(size), rng(seed));
      expect(count(mask)).toBeGreaterThan(0);
      const expected = new Float32Array(size * size * CHANNELS);
      for (let p = 0; p < size * size; p++) if (mask[p]) expected.fill(0.0625, p * CHANNELS, (p + 1) * CHANNELS);
      expect(Buffer.from(image.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
  });

  it('pushes down where there is no room up: 0.96 on 0.96 gives 0.96 - 1/16, or a darker blend', () => {
    const size = 64;
    const v = Math.fround(0.96);
    const pushed = Math.fround(v - PUSH_STEP);
    let pushes = 0;
    for (const seed of SEEDS.slice(0, 40)) {
      const { image, mask } = syntheticAnomaly(constant(size, v), constant(size, v), options(size), rng(seed));
      // One gain and one opacity over a constant image: every masked value is one number.
      const [inside, outside] = [new Set<number>(), new Set<number>()];
      for (let p = 0; p < size * size; p++) {
        for (let c = 0; c < CHANNELS; c++) (mask[p] ? inside : outside).add(image[p * CHANNELS + c]!);
      }
      expect([...outside]).toEqual([v]);
      expect(inside.size).toBe(1);
      const [value] = [...inside] as [number];
      if (value === pushed) pushes++;
      else expect(v - value).toBeGreaterThanOrEqual(MIN_VISIBLE_STEP); // a gain below 1 that shows on its own
    }
    // A gain above 1 (a quarter of draws) or a small one is pushed; a strong darkening is not.
    expect(pushes).toBeGreaterThan(5);
    expect(pushes).toBeLessThan(40);
  });

  it('fills from `fill` at one wrap-around offset, scaled by one factor (gain x opacity) on black', () => {
    const size = 32;
    // Distinct values in [0.2, 0.7]: times a gain <= 1.4 never clips, times the least gain x opacity
    // (0.6 x 0.6) still moves >= 0.072 from black, so nothing is pushed and image = k * fill[shifted].
    const fill = new Float32Array(size * size * CHANNELS);
    for (let i = 0; i < fill.length; i++) fill[i] = 0.2 + (0.5 * ((i * 7919) % 1021)) / 1021;
    const offsets = new Set<string>();
    let wrapped = 0;
    for (const seed of SEEDS.slice(0, 30)) {
      const { image, mask } = syntheticAnomaly(constant(size, 0), fill, { size, minArea: 0.02, maxArea: 0.05 }, rng(seed));
      const fits: [number, number][] = [];
      for (let dy = 0; dy < size; dy++) {
        for (let dx = 0; dx < size; dx++) {
          let k = NaN;
          let ok = true;
          for (let p = 0; p < size * size && ok; p++) {
            if (!mask[p]) continue;
            const q = ((Math.floor(p / size) + dy) % size) * size + ((p % size) + dx) % size;
            for (let c = 0; c < CHANNELS && ok; c++) {
              const ratio = image[p * CHANNELS + c]! / fill[q * CHANNELS + c]!;
              if (Number.isNaN(k)) k = ratio;
              ok = Math.abs(ratio - k) <= 1e-6 * k;
            }
          }
          if (ok) fits.push([dy, dx]);
        }
      }
      expect(fits).toHaveLength(1);
      const [dy, dx] = fits[0]!;
      offsets.add(`${dy},${dx}`);
      const box = connectedComponents(mask, size, size).boxes[0]!;
      if (box.y1 + dy >= size || box.x1 + dx >= size) wrapped++;
    }
    expect(offsets.size).toBeGreaterThan(20);
    expect(wrapped).toBeGreaterThan(0);
  });

  it('is deterministic for a seed, and different seeds give different masks', () => {
    const size = 64;
    const normal = uniform(rng(7), size * size * CHANNELS, 0, 1);
    const fill = uniform(rng(8), size * size * CHANNELS, 0, 1);
    const a = syntheticAnomaly(normal, fill, options(size), rng(42));
    const b = syntheticAnomaly(normal, fill, options(size), rng(42));
    expect(Buffer.from(b.image.buffer).equals(Buffer.from(a.image.buffer))).toBe(true);
    expect(Buffer.from(b.mask).equals(Buffer.from(a.mask))).toBe(true);
    const maskOf = (seed: number): string =>
      Buffer.from(syntheticAnomaly(normal, fill, options(size), rng(seed)).mask).toString('base64');
    const masks = new Set(SEEDS.slice(0, 50).map(maskOf));
    expect(masks.size).toBe(50);
  });

  it('varies: centroids spread over the image; both blob-like and thin shapes occur', () => {
    const size = 64;
    const normal = uniform(rng(7), size * size * CHANNELS, 0, 1);
    const fill = uniform(rng(8), size * size * CHANNELS, 0, 1);
    const ys: number[] = [];
    const xs: number[] = [];
    let [blobLike, thinLike] = [0, 0];
    for (const seed of SEEDS.slice(0, 50)) {
      const { mask } = syntheticAnomaly(normal, fill, { size, minArea: 0.01, maxArea: 0.05 }, rng(seed));
      const [cy, cx] = centroid(mask, size);
      ys.push(cy);
      xs.push(cx);
      const share = interior(mask, size) / count(mask);
      if (share >= 0.2) blobLike++;
      if (share === 0) thinLike++;
    }
    expect(spread(ys)).toBeGreaterThan(size / 2);
    expect(spread(xs)).toBeGreaterThan(size / 2);
    const quadrants = new Set(ys.map((y, i) => `${y < size / 2}${xs[i]! < size / 2}`));
    expect(quadrants.size).toBe(4);
    expect(blobLike).toBeGreaterThanOrEqual(10);
    expect(thinLike).toBeGreaterThanOrEqual(5);
  });

  it('rejects bad options and images', () => {
    const size = 16;
    const img = constant(size, 0.5);
    const r = rng(0);
    expect(() => syntheticAnomaly(img, img, { size, minArea: 0.2, maxArea: 0.1 }, r)).toThrow(/minArea/);
    expect(() => syntheticAnomaly(img, img, { size, minArea: 0.001, maxArea: 0.002 }, r)).toThrow(/no whole pixel count/);
    expect(() => syntheticAnomaly(img, constant(8, 0.5), { size, minArea: 0.01, maxArea: 0.1 }, r)).toThrow(/fill has/);
    const bad = img.slice();
    bad[5] = 1.5;
    expect(() => syntheticAnomaly(bad, img, { size, minArea: 0.01, maxArea: 0.1 }, r)).toThrow(/normal\[5\]/);
  });
});
