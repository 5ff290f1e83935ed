// The verdict on hand-made 8-bit probability maps whose regions, boxes and probabilities are worked out
// by hand below, masked the way predict masks them (thresholdMask: grey > threshold * 255, strictly).
import { describe, expect, it } from 'vitest';
import { thresholdMask } from '../../src/data/overlay.js';
import { judgeMask } from '../../src/data/verdict.js';

const WIDTH = 7;
const HEIGHT = 5;
/** 0.4 * 255 is exactly 102: a pixel of 102 is at the threshold, 103 above it. */
const THRESHOLD = 0.4;
// A: a 2x2 block at the top left (200, 200, 200, 150): 4 px, max 200, mean 187.5.
// B: a diagonal chain (5,1)=120, (4,2)=130, (3,3)=110, 8-connected only: 3 px, max 130, mean 120.
//    (6,2)=102 touches it but is at the threshold, not above: B stays 3 px and 3 wide.
// C: (0,4)=103, one grey level above the threshold: 1 px. (5,4) and (6,4) are 102: no region.
// prettier-ignore
const GREY = Uint8Array.from([
  200, 200,   0,   0,   0,   0,   0,
  200, 150,   0,   0,   0, 120,   0,
    0,   0,   0,   0, 130,   0, 102,
    0,   0,   0, 110,   0,   0,   0,
  103,   0,   0,   0,   0, 102, 102,
]);
const p = (grey: number) => Number((grey / 255).toFixed(4));
const A = { area: 4, x: 0, y: 0, width: 2, height: 2, maxProbability: p(200), meanProbability: p(187.5) };
const B = { area: 3, x: 3, y: 1, width: 3, height: 3, maxProbability: p(130), meanProbability: p(120) };
const C = { area: 1, x: 0, y: 4, width: 1, height: 1, maxProbability: p(103), meanProbability: p(103) };

const judge = (minArea: number, maxListed?: number) => judgeMask(thresholdMask(GREY, THRESHOLD), GREY, WIDTH, HEIGHT, minArea, maxListed);

describe('judgeMask', () => {
  it('lists the 8-connected regions largest first, with native-pixel boxes and their probabilities', () => {
    expect(judge(1)).toEqual({ verdict: 'NG', score: 4, maxProbability: p(200), regionCount: 3, regions: [A, B, C], regionsOmitted: 0 });
    expect(A.meanProbability).toBe(0.7353);
  });

  it('a pixel exactly at the threshold is not defect (>, not ≥); one grey level above it is', () => {
    const mask = thresholdMask(GREY, THRESHOLD);
    expect([mask[2 * WIDTH + 6], mask[4 * WIDTH + 5], mask[4 * WIDTH + 6], mask[4 * WIDTH]]).toEqual([0, 0, 0, 255]);
    // With ≥, (6,2) would join B (4 px, 4 wide) and (5,4)-(6,4) would be a region of their own.
    const { regions } = judge(1);
    expect(regions.map((r) => [r.area, r.width])).toEqual([[4, 2], [3, 3], [1, 1]]);
    expect(regions.some((r) => r.y === 4 && r.x === 5)).toBe(false);
  });

  it('is NG from a region of exactly minArea pixels, OK one pixel above it', () => {
    expect(judge(4).verdict).toBe('NG');
    expect(judge(5)).toMatchObject({ verdict: 'OK', score: 4, regionCount: 3 });
    // Smaller regions still count toward neither verdict: A alone decides.
    expect(judge(3).verdict).toBe('NG');
  });

  it('an image with nothing above the threshold: OK, score 0, its top probability still reported', () => {
    const grey = Uint8Array.from(GREY, (g) => Math.min(g, 100));
    expect(judgeMask(thresholdMask(grey, THRESHOLD), grey, WIDTH, HEIGHT, 1)).toEqual({
      verdict: 'OK', score: 0, maxProbability: p(100), regionCount: 0, regions: [], regionsOmitted: 0,
    });
  });

  it('lists at most maxListed regions and counts the rest; equal areas keep raster order', () => {
    expect(judge(1, 2)).toMatchObject({ regionCount: 3, regions: [A, B], regionsOmitted: 1 });
    // Four single pixels, apart: all area 1, listed in raster order of their pixels.
    const grey = new Uint8Array(WIDTH * HEIGHT);
    for (const i of [33, 2, 20, 14]) grey[i] = 255;
    const j = judgeMask(thresholdMask(grey, THRESHOLD), grey, WIDTH, HEIGHT, 2, 3);
    expect(j.regions.map((r) => r.y * WIDTH + r.x)).toEqual([2, 14, 20]);
    expect(j).toMatchObject({ verdict: 'OK', score: 1, regionCount: 4, regionsOmitted: 1 });
  });

  it('refuses a minArea below 1 and a probability map of another size', () => {
    const mask = thresholdMask(GREY, THRESHOLD);
    expect(() => judgeMask(mask, GREY, WIDTH, HEIGHT, 0)).toThrow(/minArea must be a positive integer, got 0/);
    expect(() => judgeMask(mask, GREY.subarray(1), WIDTH, HEIGHT, 1)).toThrow(/34 probabilities for a mask of 35 pixels/);
  });
});
