// Where training tiles are cut: a shot's tile over its defect (clamped to the image, the defect pixel
// at least N/8 from the tile's border where the image allows), DEFECT_TILE_SHARE of the time; normal
// tiles anywhere; crops mirrored past the image's edges as tiled inference pads.
import { describe, expect, it } from 'vitest';
import { rng } from '../../src/util/random.js';
import { DEFECT_TILE_SHARE, anywhere, around, cutBytes, shotTileOrigin, tileMargin, tileShot } from '../../src/train/tile-samples.js';

const W = 100;
const H = 80;
const TILE = 32;

/** A W x H shot whose mask holds the given pixels. */
function shot(pixels: [number, number][]) {
  const mask = new Uint8Array(W * H);
  for (const [x, y] of pixels) mask[y * W + x] = 1;
  return tileShot({ data: new Uint8Array(W * H * 3), width: W, height: H }, mask);
}

const inside = (p: number, start: number) => p >= start && p < start + TILE;

describe('tile placement', () => {
  it('a tile anywhere spans the possible starts, and starts at 0 on a side shorter than the tile', () => {
    expect(anywhere(100, 32, 0)).toBe(0);
    expect(anywhere(100, 32, 0.9999)).toBe(68);
    expect(anywhere(100, 32, 0.5)).toBe(34); // floor(0.5 * 69)
    expect(anywhere(20, 32, 0.7)).toBe(0);
  });

  it('keeps the defect pixel at least the margin from the border where it can', () => {
    expect(tileMargin(32)).toBe(4);
    // Pixel 50 in a tile of 32 with margin 4: starts 23 (pixel at 27 = 32 - 1 - 4) to 46 (pixel at 4).
    expect(around(50, 100, 32, 4, 0)).toBe(23);
    expect(around(50, 100, 32, 4, 0.9999)).toBe(46);
    const s = shot([[50, 40]]);
    const r = rng(3);
    for (let i = 0; i < 200; i++) {
      const o = shotTileOrigin(s, TILE, [0, r(), r(), r()]);
      expect(o.overDefect).toBe(true);
      for (const [p, start] of [[50, o.x], [40, o.y]] as const) {
        expect(p - start).toBeGreaterThanOrEqual(4);
        expect(start + TILE - 1 - p).toBeGreaterThanOrEqual(4);
      }
    }
  });

  it('a defect in the corner: the tile is clamped to the image and still holds it', () => {
    const s = shot([[W - 1, H - 1]]);
    for (const u of [0, 0.3, 0.9999]) {
      const o = shotTileOrigin(s, TILE, [0.1, 0.5, u, u]);
      expect([o.x, o.y]).toEqual([W - TILE, H - TILE]);
      expect(inside(W - 1, o.x) && inside(H - 1, o.y)).toBe(true);
    }
    const top = shot([[0, 1]]);
    expect(shotTileOrigin(top, TILE, [0.1, 0.5, 0.9999, 0.9999])).toEqual({ x: 0, y: 0, overDefect: true });
  });

  it(`places ${DEFECT_TILE_SHARE} of the shot tiles over the defect, the rest anywhere; a shot without defect always anywhere`, () => {
    const s = shot([[10, 10], [11, 10], [90, 70]]);
    const r = rng(7);
    const draws = 20_000;
    let over = 0;
    let holding = 0;
    for (let i = 0; i < draws; i++) {
      const o = shotTileOrigin(s, TILE, [r(), r(), r(), r()]);
      if (o.overDefect) over++;
      if ((inside(10, o.x) && inside(10, o.y)) || (inside(90, o.x) && inside(70, o.y))) holding++;
    }
    // Binomial standard deviation at 20,000 draws: 0.003.
    expect(Math.abs(over / draws - DEFECT_TILE_SHARE)).toBeLessThan(0.015);
    // Tiles anywhere hold a defect sometimes, tiles over the defect always.
    expect(holding).toBeGreaterThan(over);
    expect(holding).toBeLessThan(draws);
    const clean = shot([]);
    for (let i = 0; i < 50; i++) expect(shotTileOrigin(clean, TILE, [0, r(), r(), r()]).overDefect).toBe(false);
  });

  it('cuts crops mirrored past the right and bottom edges', () => {
    // A 3x2 one-channel image: rows [1 2 3], [4 5 6]; a 4x4 crop at (1, 0).
    const image = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(Array.from(cutBytes(image, 3, 2, 1, 1, 0, 4))).toEqual([2, 3, 2, 1, 5, 6, 5, 4, 2, 3, 2, 1, 5, 6, 5, 4]);
    // Three channels stay together.
    const rgb = Uint8Array.from([10, 11, 12, 20, 21, 22]);
    expect(Array.from(cutBytes(rgb, 2, 1, 3, 0, 0, 2))).toEqual([10, 11, 12, 20, 21, 22, 10, 11, 12, 20, 21, 22]);
  });
});
