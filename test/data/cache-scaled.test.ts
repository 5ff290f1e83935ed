// The image cache at native size (training on tiles): its budget counts each image's real bytes, known
// once decoded, and drops the least recently used past it.
import { describe, expect, it } from 'vitest';
import { ImageCache } from '../../src/data/cache.js';

describe('ImageCache.getScaled', () => {
  it('counts the decoded bytes of each image and evicts past the budget', async () => {
    const decoded: string[] = [];
    // 10x10 at scale 1: 300 bytes; 20x10: 600 bytes.
    const fake = async (path: string, scale: number) => {
      decoded.push(path);
      const width = (path === 'wide' ? 20 : 10) * scale;
      return { data: new Uint8Array(width * 10 * scale * 3), width, height: 10 * scale };
    };
    const cache = new ImageCache(700, async () => new Uint8Array(0), fake);
    await cache.getScaled('a', 1);
    await cache.getScaled('b', 1);
    expect(cache.heldBytes).toBe(600);
    await cache.getScaled('a', 1); // a hit: a is now the most recent
    expect(decoded).toEqual(['a', 'b']);
    await cache.getScaled('wide', 1);
    await new Promise((r) => setTimeout(r, 0));
    // 1,200 bytes over a 700 budget: b (the least recently used) goes, then a; wide's 600 fit.
    expect(cache.heldBytes).toBe(600);
    await cache.getScaled('a', 1);
    expect(decoded).toEqual(['a', 'b', 'wide', 'a']);
    // a again (300) next to wide (600): wide goes.
    expect(cache.heldBytes).toBe(300);
    await cache.getScaled('a', 1);
    expect(decoded.length).toBe(4);
    // A different scale is another entry.
    const half = await cache.getScaled('a', 0.5);
    expect(half.width).toBe(5);
  });
});
