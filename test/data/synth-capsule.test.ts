// capsule's look-alike marks: how often they come, where each kind lies, how strong it is, and that the
// benign map holds exactly the pixels they changed.
import { describe, expect, it } from 'vitest';
import { LOOKALIKES, type Lookalike, addLookalikes } from '../../src/data/synth-capsule.js';
import { HALF_LENGTH, RADIUS, drawScene, toPill } from '../../src/data/synth-objects.js';
import { rng } from '../../src/util/random.js';

const SIZE = 64;
const DRAWS = 300;

interface Marked {
  kinds: Lookalike[];
  /** Pixels whose albedo the marks changed, with the largest signed change of a channel. */
  changed: Map<number, number>;
  benignBefore: Uint8Array;
  benignAfter: Uint8Array;
  coverage: Float32Array;
  pillFrame: (p: number) => [number, number];
}

function mark(seed: number): Marked {
  const r = rng(seed);
  const scene = drawScene(SIZE, r);
  const before = scene.albedo.slice();
  const benignBefore = scene.benign.slice();
  const kinds = addLookalikes(scene, SIZE, r);
  const changed = new Map<number, number>();
  for (let p = 0; p < SIZE * SIZE; p++) {
    let largest = 0;
    for (let c = 0; c < 3; c++) {
      const d = scene.albedo[3 * p + c]! - before[3 * p + c]!;
      if (Math.abs(d) > Math.abs(largest)) largest = d;
    }
    if (largest !== 0) changed.set(p, largest);
  }
  return { kinds, changed, benignBefore, benignAfter: scene.benign, coverage: scene.coverage, pillFrame: (p) => toPill(scene.pose, p % SIZE, Math.floor(p / SIZE)) };
}

describe('synthetic capsule: look-alike marks', () => {
  const draws = Array.from({ length: DRAWS }, (_, i) => mark(1000 + i));

  it('gives none to 40% of pictures, two to 40% of the rest, and each kind about as often', () => {
    const none = draws.filter((d) => d.kinds.length === 0).length / DRAWS;
    const two = draws.filter((d) => d.kinds.length === 2).length / draws.filter((d) => d.kinds.length > 0).length;
    // binomial std at n = 300 (and about 180): 0.028 and 0.037
    expect(Math.abs(none - 0.4)).toBeLessThan(0.09);
    expect(Math.abs(two - 0.4)).toBeLessThan(0.11);
    const all = draws.flatMap((d) => d.kinds);
    for (const kind of LOOKALIKES) expect(all.filter((k) => k === kind).length / all.length, kind).toBeGreaterThan(0.2);
  });

  it('marks exactly the changed pixels benign, and changes nothing in a picture without marks', () => {
    for (const d of draws) {
      if (d.kinds.length === 0) expect(d.changed.size).toBe(0);
      let wrong = 0;
      for (let p = 0; p < SIZE * SIZE; p++) if (d.benignAfter[p] !== (d.changed.has(p) ? 1 : d.benignBefore[p])) wrong++;
      expect(wrong).toBe(0);
    }
  });

  it('puts each kind where it belongs, as strong as a defect: glints bright on the body, seams dark along the axis, fibres dark on the background', () => {
    const single = draws.filter((d) => d.kinds.length === 1 && d.changed.size > 0);
    // 300 x 0.6 x 0.6 = 108 expected
    expect(single.length).toBeGreaterThan(70);
    const a = HALF_LENGTH * SIZE;
    const b = RADIUS * SIZE;
    for (const d of single) {
      const kind = d.kinds[0]!;
      for (const [p, change] of d.changed) {
        if (kind === 'glint') expect(change).toBeGreaterThanOrEqual(0.2);
        else expect(change).toBeLessThanOrEqual(-0.2);
        expect(Math.abs(change)).toBeLessThanOrEqual(1.2 * 0.34 + 1e-6);
        if (kind === 'fibre') expect(d.coverage[p]).toBe(0);
        else expect(d.coverage[p]).toBe(1);
      }
      if (kind !== 'seam') continue;
      // a straight line along the axis: its pixels' distance from the axis spreads by its width only
      // (1-2 px, plus the scale's 5%), and it keeps off the axis by at least a fifth of a radius
      const v = [...d.changed.keys()].map((p) => d.pillFrame(p)[1]);
      expect(Math.max(...v) - Math.min(...v)).toBeLessThan(2.6);
      expect(Math.min(...v.map(Math.abs))).toBeGreaterThan(0.2 * b - 1.5);
      for (const p of d.changed.keys()) expect(Math.abs(d.pillFrame(p)[0])).toBeLessThan(a + b);
    }
  });
});
