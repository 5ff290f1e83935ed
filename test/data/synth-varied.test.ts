// The synthetic categories whose normal images vary (pill and capsule: an aligned object; wood: a texture): exact and
// never-empty masks at 64 and 256, normals that differ in light, pose and grain, benign marks that no mask
// contains, defects as small as MVTec AD's, and determinism for a seed.
import { describe, expect, it } from 'vitest';
import { SYNTH_CATEGORIES, renderSample, type SynthSample } from '../../src/data/synth.js';

const VARIED = ['pill', 'wood', 'capsule'] as const;
const SEED = 0;
const NORMALS = 20;

const count = (map: Uint8Array): number => map.reduce((a, b) => a + b, 0);
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]): number => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1));
const range = (v: number[]): number => Math.max(...v) - Math.min(...v);
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** Pixels where image and clean differ in some channel, as 0/1. */
function changed(s: SynthSample): Uint8Array {
  const out = new Uint8Array(s.image.length / 3);
  for (let p = 0; p < out.length; p++) {
    out[p] = s.image[3 * p] !== s.clean[3 * p] || s.image[3 * p + 1] !== s.clean[3 * p + 1] || s.image[3 * p + 2] !== s.clean[3 * p + 2] ? 1 : 0;
  }
  return out;
}

/** Luminance in [0, 1]. */
function luminance(image: Uint8Array): Float64Array {
  const out = new Float64Array(image.length / 3);
  for (let p = 0; p < out.length; p++) out[p] = (image[3 * p]! + image[3 * p + 1]! + image[3 * p + 2]!) / (3 * 255);
  return out;
}

const normals = (category: string, size: number): SynthSample[] =>
  Array.from({ length: NORMALS }, (_, i) => renderSample(category, 'train', i, size, SEED));

describe.each(VARIED)('synthetic %s', (category) => {
  const types = SYNTH_CATEGORIES[category]!.defects;

  it.each([
    [64, 10],
    [256, 3],
  ])('at size %i, marks exactly the changed pixels, never an empty mask, and never a benign mark', (size, perType) => {
    for (const type of types) {
      for (let i = 0; i < perType; i++) {
        const s = renderSample(category, type, i, size, SEED);
        const where = `${category}/${type}/${i} at ${size}`;
        expect([...changed(s)], where).toEqual([...s.mask!]);
        // at 64 the smallest defect, a hole of radius 1.5 px, still keeps its centre and 4 neighbours
        expect(count(s.mask!), where).toBeGreaterThanOrEqual(5);
        expect(s.mask!.some((m, p) => m === 1 && s.benign![p] === 1), where).toBe(false);
      }
    }
  });

  it('draws defects as small as MVTec AD\'s at 256: every type\'s median area under 1%, scratches at most 2 px wide', () => {
    const size = 256;
    for (const type of types) {
      const masks = Array.from({ length: 7 }, (_, i) => renderSample(category, type, i, size, SEED).mask!);
      expect(median(masks.map(count)) / (size * size), type).toBeLessThan(0.01);
      if (type !== 'scratch') continue;
      // Strokes keep pixel centres within a half-width under 1 px of the line, so no 3x3 block of a
      // scratch is full: the width is 1 or 2 px.
      for (const mask of masks) {
        let fullBlocks = 0;
        for (let y = 1; y < size - 1; y++) {
          for (let x = 1; x < size - 1; x++) {
            let full = true;
            for (let dy = -1; dy <= 1 && full; dy++) for (let dx = -1; dx <= 1; dx++) full &&= mask[(y + dy) * size + x + dx] === 1;
            if (full) fullBlocks++;
          }
        }
        expect(fullBlocks).toBe(0);
      }
    }
  });

  it('varies the brightness of its normal images', () => {
    // A gain of 1 +- 12% alone gives a std of 0.24 / sqrt(12) = 0.069 times the mean brightness (0.43-0.54),
    // i.e. 0.03-0.037; 20 images estimate a std to about 16%. Tile, a regular texture, gives 0.003.
    const brightness = normals(category, 64).map((s) => mean([...luminance(s.image)]));
    expect(std(brightness)).toBeGreaterThan(0.018);
  });

  it('puts benign marks on normal and defect images alike, in different places', () => {
    const maps = normals(category, 64).map((s) => s.benign!);
    const marked = maps.filter((m) => count(m) > 0).length;
    if (category === 'pill' || category === 'capsule') {
      // the logo is always there (its ring and bars cover about 100 px at 64)
      expect(marked).toBe(NORMALS);
      for (const type of types) expect(count(renderSample(category, type, 0, 64, SEED).benign!), type).toBeGreaterThan(50);
    } else {
      // knots, streaks and patches each come on some pictures only: none at all with chance
      // 0.6 * 0.5 * 0.65 = 0.2, so about 4 of 20
      expect(marked).toBeGreaterThan(0);
      expect(marked).toBeLessThan(NORMALS);
    }
    const distinct = new Set(maps.map((m) => m.join('')));
    expect(distinct.size).toBeGreaterThan(NORMALS / 2);
  });

  it('gives the same bytes for the same seed, and other bytes for another seed or image', () => {
    for (const folder of ['train', types[0]!]) {
      const a = renderSample(category, folder, 1, 64, 5);
      const b = renderSample(category, folder, 1, 64, 5);
      expect(Buffer.from(b.image).equals(Buffer.from(a.image)), folder).toBe(true);
      expect(Buffer.from(b.benign!).equals(Buffer.from(a.benign!)), folder).toBe(true);
      if (a.mask) expect(Buffer.from(b.mask!).equals(Buffer.from(a.mask)), folder).toBe(true);
      expect(Buffer.from(renderSample(category, folder, 1, 64, 6).image).equals(Buffer.from(a.image)), folder).toBe(false);
      expect(Buffer.from(renderSample(category, folder, 2, 64, 5).image).equals(Buffer.from(a.image)), folder).toBe(false);
    }
  });
});

describe('synthetic pill', () => {
  it('moves and turns the pill between normal images, within its pose range', () => {
    const size = 64;
    // The pill (cream, ink red) is redder than blue; the background (blue-grey) is not.
    const pose = normals('pill', size).map(({ image }) => {
      const pixels: [number, number][] = [];
      for (let p = 0; p < size * size; p++) if (image[3 * p]! - image[3 * p + 2]! > 8) pixels.push([p % size, Math.floor(p / size)]);
      const [cx, cy] = [mean(pixels.map((q) => q[0])), mean(pixels.map((q) => q[1]))];
      let [xx, yy, xy] = [0, 0, 0];
      for (const [x, y] of pixels) [xx, yy, xy] = [xx + (x - cx) ** 2, yy + (y - cy) ** 2, xy + (x - cx) * (y - cy)];
      return { cx, cy, degrees: (0.5 * Math.atan2(2 * xy, xx - yy) * 180) / Math.PI };
    });
    // Shifts of up to 4% of the size: 20 draws span about 7% (4.6 px); tilts of up to 10 degrees span
    // about 18. The principal axis stays within the tilt range, give or take 2 degrees of pixels.
    for (const axis of ['cx', 'cy'] as const) {
      expect(range(pose.map((q) => q[axis]))).toBeGreaterThan(0.03 * size);
      for (const q of pose) expect(Math.abs(q[axis] - (size - 1) / 2)).toBeLessThan(0.04 * size + 1);
    }
    expect(range(pose.map((q) => q.degrees))).toBeGreaterThan(10);
    for (const q of pose) expect(Math.abs(q.degrees)).toBeLessThan(12);
  });
});

describe('synthetic wood', () => {
  /** The grain's direction in degrees off horizontal (structure tensor), and its ring period (the
   * strongest vertical frequency, summed over columns), as a share of the size. */
  function grain(image: Uint8Array, size: number): { degrees: number; period: number } {
    const l = luminance(image);
    let [gxx, gyy, gxy] = [0, 0, 0];
    for (let y = 1; y < size - 1; y++) {
      for (let x = 1; x < size - 1; x++) {
        const gx = l[y * size + x + 1]! - l[y * size + x - 1]!;
        const gy = l[(y + 1) * size + x]! - l[(y - 1) * size + x]!;
        [gxx, gyy, gxy] = [gxx + gx * gx, gyy + gy * gy, gxy + gx * gy];
      }
    }
    let [best, period] = [0, 0];
    for (let k = 2; k < size / 2; k++) {
      let power = 0;
      for (let x = 0; x < size; x++) {
        let [re, im] = [0, 0];
        for (let y = 0; y < size; y++) [re, im] = [re + l[y * size + x]! * Math.cos((2 * Math.PI * k * y) / size), im + l[y * size + x]! * Math.sin((2 * Math.PI * k * y) / size)];
        power += re * re + im * im;
      }
      if (power > best) [best, period] = [power, 1 / k];
    }
    return { degrees: (0.5 * Math.atan2(-2 * gxy, gyy - gxx) * 180) / Math.PI, period };
  }

  it('varies the grain\'s direction and scale between normal images', () => {
    const size = 64;
    const wood = normals('wood', size).map((s) => grain(s.image, size));
    // Tilts of up to 15 degrees span about 27 over 20 draws (the rings' warp adds some); brushed
    // metal's streaks, always horizontal, span under 3.
    expect(range(wood.map((g) => g.degrees))).toBeGreaterThan(15);
    expect(range(normals('brushed_metal', size).map((s) => grain(s.image, size).degrees))).toBeLessThan(3);
    // Ring periods of 4.5-8% of the size: a ratio of 1.8 at most, about 1.7 over 20 draws.
    const periods = wood.map((g) => g.period);
    expect(Math.max(...periods) / Math.min(...periods)).toBeGreaterThan(1.4);
    for (const p of periods) expect(p).toBeGreaterThan(0.04);
    for (const p of periods) expect(p).toBeLessThan(0.1);
  });
});
