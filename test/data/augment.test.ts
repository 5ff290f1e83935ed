import { describe, expect, it } from 'vitest';
import {
  DIHEDRAL_COUNT,
  applyDihedral,
  dihedralPoint,
  invertDihedral,
  randomFlipRot,
} from '../../src/data/augment.js';
import { rng, uniform } from '../../src/util/random.js';

const SIZE = 4;
const CHANNELS = 3;
const MARK: [number, number] = [0, 1]; // (y, x): top row, second column

// Where MARK lands under each transform: t & 4 mirrors left-right, then t & 3 quarter turns clockwise.
const EXPECTED: [number, number][] = [
  [0, 1], // identity
  [1, 3], // 90° clockwise: the top row becomes the right column
  [3, 2], // 180°
  [2, 0], // 270° clockwise
  [0, 2], // mirror left-right
  [2, 3], // mirror, then 90°: transpose about the anti-diagonal
  [3, 1], // mirror, then 180°: flip upside down
  [1, 0], // mirror, then 270°: transpose
];

/** An image with one marked pixel (distinct values per channel) and its mask. */
function marked(): { image: Float32Array; mask: Uint8Array } {
  const image = new Float32Array(SIZE * SIZE * CHANNELS);
  const mask = new Uint8Array(SIZE * SIZE);
  const p = MARK[0] * SIZE + MARK[1];
  image.set([0.25, 0.5, 0.75], p * CHANNELS);
  mask[p] = 1;
  return { image, mask };
}

describe('dihedral transforms', () => {
  it.each(EXPECTED.map((to, t) => [t, to] as const))('transform %i moves the marked pixel to %j', (t, [y, x]) => {
    expect(dihedralPoint(t, MARK[0], MARK[1], SIZE)).toEqual([y, x]);
    const { image, mask } = marked();
    const outImage = applyDihedral(image, SIZE, CHANNELS, t);
    const outMask = applyDihedral(mask, SIZE, 1, t);
    const p = y * SIZE + x;
    expect(Array.from(outImage.subarray(p * CHANNELS, p * CHANNELS + CHANNELS))).toEqual([0.25, 0.5, 0.75]);
    expect(outMask[p]).toBe(1);
    expect(outMask.reduce((a, b) => a + b, 0)).toBe(1);
    expect(outImage.reduce((a, b) => a + b, 0)).toBeCloseTo(1.5, 6);
    expect(outMask).toBeInstanceOf(Uint8Array);
    // Pure: the inputs are untouched.
    expect(marked()).toEqual({ image, mask });
  });

  it('gives 8 distinct permutations, each undone exactly by its inverse', () => {
    const size = 5; // odd, so the centre row and column are exercised too
    const image = uniform(rng(1), size * size * CHANNELS, 0, 1);
    const seen = new Set<string>();
    for (let t = 0; t < DIHEDRAL_COUNT; t++) {
      const out = applyDihedral(image, size, CHANNELS, t);
      seen.add(Array.from(out).join());
      expect(applyDihedral(out, size, CHANNELS, invertDihedral(t))).toEqual(image);
    }
    expect(seen.size).toBe(DIHEDRAL_COUNT);
  });

  it('rejects a transform outside 0..7 and data of the wrong length', () => {
    expect(() => dihedralPoint(8, 0, 0, 4)).toThrow(/0\.\.7/);
    expect(() => applyDihedral(new Float32Array(10), 4, 1, 0)).toThrow(/4x4x1/);
  });
});

describe('randomFlipRot', () => {
  it('applies the same transform to image and mask, so they stay aligned', () => {
    const size = 6;
    const r = rng(3);
    const used = new Set<number>();
    for (let trial = 0; trial < 64; trial++) {
      // The image's first channel carries the mask, so alignment can be read off pixel by pixel.
      const mask = Uint8Array.from({ length: size * size }, () => (r() < 0.3 ? 1 : 0));
      const image = new Float32Array(size * size * CHANNELS);
      mask.forEach((m, p) => image.set([m, r(), 0.5], p * CHANNELS));
      const out = randomFlipRot(image, mask, size, CHANNELS, r);
      used.add(out.transform);
      out.mask.forEach((m, p) => expect(out.image[p * CHANNELS]).toBe(m));
      expect(out.image).toEqual(applyDihedral(image, size, CHANNELS, out.transform));
      expect(out.mask).toEqual(applyDihedral(mask, size, 1, out.transform));
    }
    expect(used.size).toBe(DIHEDRAL_COUNT);
  });

  it('uses exactly one draw of the generator', () => {
    const a = rng(9);
    const b = rng(9);
    const { image, mask } = marked();
    randomFlipRot(image, mask, SIZE, CHANNELS, a);
    b();
    expect(a()).toBe(b());
  });
});
