import { describe, expect, it } from 'vitest';
import { connectedComponents } from '../../src/data/components.js';
import { rng } from '../../src/util/random.js';

/** Rows of '#' (foreground) and '.' as a mask. */
function parse(rows: string[]): { mask: Uint8Array; width: number; height: number } {
  const width = rows[0]!.length;
  return { mask: Uint8Array.from(rows.join(''), (c) => (c === '#' ? 1 : 0)), width, height: rows.length };
}

/** Union-find over 8-neighbours: a second, independent labelling to compare partitions with. */
function unionFindPartition(mask: Uint8Array, width: number, height: number): number[] {
  const parent = Array.from({ length: mask.length }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      if (!mask[p]) continue;
      for (const [dy, dx] of [[0, 1], [1, -1], [1, 0], [1, 1]] as const) {
        const ny = y + dy;
        const nx = x + dx;
        if (ny >= height || nx < 0 || nx >= width || !mask[ny * width + nx]) continue;
        parent[find(p)] = find(ny * width + nx);
      }
    }
  }
  return Array.from(mask, (v, i) => (v ? find(i) : -1));
}

describe('connectedComponents', () => {
  it('joins diagonal neighbours (8-connectivity) and numbers components in raster order', () => {
    const { mask, width, height } = parse([
      '#...##',
      '.#..#.',
      '......',
      '#....#',
    ]);
    const c = connectedComponents(mask, width, height);
    expect(c.count).toBe(4);
    expect(Array.from(c.labels)).toEqual([
      1, 0, 0, 0, 2, 2,
      0, 1, 0, 0, 2, 0,
      0, 0, 0, 0, 0, 0,
      3, 0, 0, 0, 0, 4,
    ]);
    expect(c.sizes).toEqual([2, 3, 1, 1]);
    expect(c.boxes[0]).toEqual({ x0: 0, y0: 0, x1: 1, y1: 1 });
    expect(c.boxes[1]).toEqual({ x0: 4, y0: 0, x1: 5, y1: 1 });
    expect(c.boxes[3]).toEqual({ x0: 5, y0: 3, x1: 5, y1: 3 });
  });

  it('an empty mask has no component, a full one has one', () => {
    expect(connectedComponents(new Uint8Array(12), 4, 3).count).toBe(0);
    const full = connectedComponents(new Uint8Array(12).fill(1), 4, 3);
    expect([full.count, full.sizes[0]]).toEqual([1, 12]);
    expect(full.boxes[0]).toEqual({ x0: 0, y0: 0, x1: 3, y1: 2 });
  });

  it('a U shape that meets only at the bottom is one component', () => {
    const { mask, width, height } = parse(['#.#', '#.#', '###']);
    expect(connectedComponents(mask, width, height).count).toBe(1);
  });

  it('partitions random masks exactly as union-find does', () => {
    const r = rng(3);
    for (let trial = 0; trial < 20; trial++) {
      const width = 5 + Math.floor(r() * 20);
      const height = 5 + Math.floor(r() * 20);
      const mask = Uint8Array.from({ length: width * height }, () => (r() < 0.4 ? 1 : 0));
      const c = connectedComponents(mask, width, height);
      const roots = unionFindPartition(mask, width, height);
      // Same partition: label equality <=> root equality, for every pair of foreground pixels.
      const rootOf = new Map<number, number>();
      for (let i = 0; i < mask.length; i++) {
        if (!mask[i]) {
          expect(c.labels[i]).toBe(0);
          continue;
        }
        const known = rootOf.get(c.labels[i]!);
        if (known === undefined) rootOf.set(c.labels[i]!, roots[i]!);
        else expect(roots[i]).toBe(known);
      }
      expect(new Set(rootOf.values()).size).toBe(c.count);
      expect(c.sizes.reduce((a, b) => a + b, 0)).toBe(mask.reduce((a, b) => a + b, 0));
    }
  });

  it('rejects a mask of the wrong length', () => {
    expect(() => connectedComponents(new Uint8Array(5), 2, 2)).toThrow(/5 values do not make a 2x2 mask/);
  });
});
