import { describe, expect, it } from 'vitest';
import { ImageCache } from '../../src/data/cache.js';

/** A decoder that counts its calls and returns size x size x 3 bytes tagged with the path's length. */
function counting(fail = new Set<string>()) {
  const calls: string[] = [];
  const decode = async (path: string, size: number) => {
    calls.push(path);
    if (fail.has(path)) throw new Error(`cannot read image '${path}'`);
    return new Uint8Array(size * size * 3).fill(path.length);
  };
  return { calls, decode };
}

describe('ImageCache', () => {
  it('decodes each file once while the images fit the budget, however often they are drawn', async () => {
    const d = counting();
    const cache = new ImageCache(10 * 4 * 4 * 3, d.decode);
    const paths = ['a', 'bb', 'ccc'];
    for (let round = 0; round < 5; round++) for (const p of paths) expect((await cache.get(p, 4))[0]).toBe(p.length);
    expect(d.calls).toEqual(paths);
    expect(cache.decodes).toBe(3);
    expect(cache.heldBytes).toBe(3 * 4 * 4 * 3);
  });

  it('shares one decode between concurrent gets of a file', async () => {
    const d = counting();
    const cache = new ImageCache(1e6, d.decode);
    const [x, y] = await Promise.all([cache.get('a', 4), cache.get('a', 4)]);
    expect(x).toBe(y);
    expect(d.calls).toEqual(['a']);
  });

  it('keys by size too, and past the budget drops the least recently used image', async () => {
    const d = counting();
    const cache = new ImageCache(2 * 4 * 4 * 3, d.decode);
    await cache.get('a', 4);
    await cache.get('b', 4);
    await cache.get('a', 4); // a is now the most recently used
    await cache.get('c', 4); // evicts b
    await cache.get('a', 4);
    await cache.get('b', 4); // decoded again
    expect(d.calls).toEqual(['a', 'b', 'c', 'b']);
    await cache.get('a', 2);
    expect(d.calls.at(-1)).toBe('a');
    expect(cache.heldBytes).toBeLessThanOrEqual(2 * 4 * 4 * 3);
  });

  it('does not keep a failed decode', async () => {
    const d = counting(new Set(['bad']));
    const cache = new ImageCache(1e6, d.decode);
    await expect(cache.get('bad', 4)).rejects.toThrow(/bad/);
    await expect(cache.get('bad', 4)).rejects.toThrow(/bad/);
    expect(d.calls).toEqual(['bad', 'bad']);
    expect(cache.heldBytes).toBe(0);
  });
});
