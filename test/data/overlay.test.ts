import { describe, expect, it } from 'vitest';
import { overlay, resizeProbability, thresholdMask } from '../../src/data/overlay.js';

describe('prediction pictures', () => {
  it('tints exactly the mask pixels; every other pixel is the image own', () => {
    const width = 5;
    const height = 3;
    const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256);
    const mask = new Uint8Array(width * height);
    mask[0] = 255;
    mask[7] = 255;
    const out = overlay({ data, width, height }, mask);
    for (let p = 0; p < width * height; p++) {
      const own = [0, 1, 2].map((c) => data[p * 3 + c]);
      const got = [0, 1, 2].map((c) => out[p * 3 + c]);
      if (mask[p]) {
        expect(got).not.toEqual(own);
        // Half red over the image.
        expect(got[0]).toBe(Math.round(0.5 * own[0]! + 127.5));
        expect(got[1]).toBe(Math.round(0.5 * own[1]!));
      } else expect(got).toEqual(own);
    }
  });

  it('resizes a probability map without leaving [0, 255] and thresholds at 0.5', async () => {
    const size = 4;
    const prob = Float32Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 0 : 1));
    const grey = await resizeProbability(prob, size, 9, 7);
    expect(grey.length).toBe(63);
    expect(Math.max(...grey)).toBeLessThanOrEqual(255);
    const mask = thresholdMask(grey);
    // Left columns background, right columns defect.
    expect(mask[0]).toBe(0);
    expect(mask[8]).toBe(255);
  });
});
