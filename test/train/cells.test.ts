import { describe, expect, it } from 'vitest';
import { DEFECT_CELL_FRACTION, cellFractions, cellMasks } from '../../src/train/cells.js';

/** A size x size mask with the given pixels set. */
function mask(size: number, pixels: [number, number][]): Uint8Array {
  const m = new Uint8Array(size * size);
  for (const [x, y] of pixels) m[y * size + x] = 1;
  return m;
}

describe('cell labels', () => {
  // 16x16 pixels, stride 4: a 4x4 grid of cells.
  const size = 16;
  const stride = 4;
  // A full 4x4 block in cell (1, 1) (pixels x 4..7, y 4..7), and one stray pixel in cell (3, 3).
  const block: [number, number][] = [];
  for (let y = 4; y < 8; y++) for (let x = 4; x < 8; x++) block.push([x, y]);
  const m = mask(size, [...block, [15, 15]]);

  it('measures the share of defect pixels in each cell', () => {
    const f = cellFractions(m, size, stride);
    expect(f[1 * 4 + 1]).toBe(1);
    expect(f[3 * 4 + 3]).toBe(1 / 16);
    expect(f.reduce((a, v) => a + v, 0)).toBe(1 + 1 / 16);
  });

  it("'any': a cell with a defect pixel is a defect cell, every other cell normal", () => {
    const c = cellMasks(m, size, stride, 'any');
    expect(Array.from(c.defect)).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(Array.from(c.normal)).toEqual(Array.from(c.defect, (v) => 1 - v));
  });

  it("'fraction': defect cells by share, touched and bordering cells in neither part", () => {
    expect(DEFECT_CELL_FRACTION).toBe(0.5);
    const c = cellMasks(m, size, stride, 'fraction');
    // Only the full cell (1, 1) is a defect cell; the stray pixel's cell (3, 3) holds 1/16 < 0.5.
    expect(Array.from(c.defect)).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Normal: cells not within one cell (8-neighbourhood) of a touched cell. Touched: (1,1) and (3,3).
    // Rows (y) of the grid, x from 0 to 3: every cell of rows 0-2, columns 0-2 borders (1,1);
    // (3,0), (3,1) do not border (1,1) [x distance 2] nor (3,3) [y distance >= 2]; (2,2),(3,2),(2,3) border (3,3).
    expect(Array.from(c.normal)).toEqual([
      0, 0, 0, 1,
      0, 0, 0, 1,
      0, 0, 0, 0,
      1, 1, 0, 0,
    ]);
    for (let i = 0; i < 16; i++) expect(c.defect[i]! + c.normal[i]!).toBeLessThanOrEqual(1);
  });

  it("'fraction' on a mask without a defect: every cell is normal", () => {
    const c = cellMasks(new Uint8Array(size * size), size, stride, 'fraction');
    expect(Array.from(c.normal)).toEqual(new Array(16).fill(1));
    expect(Array.from(c.defect)).toEqual(new Array(16).fill(0));
  });

  it("'fraction': a half-covered cell is a defect cell, a just-under-half one is not", () => {
    const half: [number, number][] = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) half.push([x, y]); // 8 of cell (0,0)'s 16 pixels
    expect(cellMasks(mask(size, half), size, stride, 'fraction').defect[0]).toBe(1);
    expect(cellMasks(mask(size, half.slice(1)), size, stride, 'fraction').defect[0]).toBe(0);
  });
});
