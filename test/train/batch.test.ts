// Batches as METHOD.md describes them: shots, crop-and-paste samples and normal images in every step,
// with the masks on the feature grid and the regions of the paste weights.
import { describe, expect, it } from 'vitest';
import { applyDihedral, bytesToRgb, maxPoolMask, normalizeImageNet } from '../../src/data/index.js';
import { type BatchOptions, type BatchSources, batchLayout, layoutSize, makeBatch, packTurned } from '../../src/train/batch.js';
import { layoutAt, syntheticPhaseSteps } from '../../src/train/schedule.js';
import { rng, uniform } from '../../src/util/random.js';

const SIZE = 32;
const STRIDE = 8;
const CELLS = (SIZE / STRIDE) ** 2;

/** Three shots with a square defect each, and six normal images of distinct flat colours. */
function sources(): BatchSources & { normalBytes: Uint8Array[]; drawn: number[] } {
  const r = rng(9);
  const shots = [0, 1, 2].map((k) => {
    const mask = new Uint8Array(SIZE * SIZE);
    for (let y = 4 + 6 * k; y < 10 + 6 * k; y++) mask.fill(1, y * SIZE + 5, y * SIZE + 12);
    return { image: uniform(r, SIZE * SIZE * 3, 0, 1), mask };
  });
  const normalBytes = [0, 1, 2, 3, 4, 5].map((k) => new Uint8Array(SIZE * SIZE * 3).fill(20 + 40 * k));
  const drawn: number[] = [];
  return {
    shots,
    normalCount: normalBytes.length,
    normal: async (i) => {
      drawn.push(i);
      return normalBytes[i]!;
    },
    normalBytes,
    drawn,
  };
}

const options = (o: Partial<BatchOptions> = {}): BatchOptions => ({
  size: SIZE,
  layout: batchLayout(4, 4, true),
  cellStride: STRIDE,
  paste: 'anywhere',
  ...o,
});

describe('batchLayout', () => {
  it('splits the annotated slots between shots and pasted samples, after the normal images', () => {
    // The annotated part is the whole --batch (as the baseline's); normal and synthetic samples come on top.
    expect(batchLayout(8, 4, true)).toEqual({ shots: 4, pasted: 4, synthetic: 0, normals: 4 });
    expect(batchLayout(8, 0, false)).toEqual({ shots: 8, pasted: 0, synthetic: 0, normals: 0 });
    expect(batchLayout(8, 0, true)).toEqual({ shots: 4, pasted: 4, synthetic: 0, normals: 0 });
    expect(batchLayout(8, 4, false)).toEqual({ shots: 8, pasted: 0, synthetic: 0, normals: 4 });
    expect(batchLayout(5, 2, true)).toEqual({ shots: 3, pasted: 2, synthetic: 0, normals: 2 });
    expect(batchLayout(1, 8, true)).toEqual({ shots: 1, pasted: 0, synthetic: 0, normals: 8 });
    expect(batchLayout(4, 2, true, 3)).toEqual({ shots: 2, pasted: 2, synthetic: 3, normals: 2 });
    // --paste-slots extra: a whole batch of shots, the pasted samples on top; without crop-and-paste, nothing changes.
    expect(batchLayout(4, 0, true, 0, 'extra')).toEqual({ shots: 4, pasted: 2, synthetic: 0, normals: 0 });
    expect(batchLayout(5, 2, true, 1, 'extra')).toEqual({ shots: 5, pasted: 2, synthetic: 1, normals: 2 });
    expect(batchLayout(4, 0, false, 0, 'extra')).toEqual(batchLayout(4, 0, false));
    expect(() => batchLayout(4, -1, true)).toThrow(/--normal-per-batch must be a non-negative integer, got -1/);
    expect(() => batchLayout(4, 1, true, 1.5)).toThrow(/--synthetic must be a non-negative integer, got 1.5/);
  });
});

describe('packTurned', () => {
  it('writes the turned, normalised image in one pass: the same values as applyDihedral then normalizeImageNet', () => {
    const r = rng(12);
    const size = 6;
    const floats = uniform(r, size * size * 3, 0, 1);
    const bytes = Uint8Array.from(uniform(r, size * size * 3, 0, 256), Math.floor);
    for (let t = 0; t < 8; t++) {
      for (const [image, asFloats] of [[floats, floats], [bytes, bytesToRgb(bytes)]] as const) {
        const batch = new Float32Array(2 * size * size * 4).fill(NaN);
        packTurned(batch, 1, image, size, t);
        const want = normalizeImageNet(applyDihedral(asFloats, size, 3, t));
        for (let p = 0; p < size * size; p++) {
          expect(Array.from(batch.subarray((size * size + p) * 4, (size * size + p) * 4 + 4))).toEqual([...want.subarray(p * 3, p * 3 + 3), 0]);
        }
        expect(batch.subarray(0, size * size * 4).every(Number.isNaN), 'sample 0 untouched').toBe(true);
      }
    }
  });
});

describe('makeBatch', () => {
  it('holds shots, pasted samples and normal images, with targets, weights and cells to match', async () => {
    const src = sources();
    const b = await makeBatch(options(), src, rng(1));
    expect(b.kinds).toEqual(['shot', 'shot', 'pasted', 'pasted', 'normal', 'normal', 'normal', 'normal']);
    expect(Array.from(b.segWeights)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(b.normalWeights)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(b.normals).toBe(4);
    const pixels = SIZE * SIZE;
    for (let i = 0; i < b.n; i++) {
      const mask = Uint8Array.from(b.target.subarray(i * pixels, (i + 1) * pixels));
      const defects = mask.reduce((a, v) => a + v, 0);
      if (b.kinds[i] === 'normal') expect(defects, `normal sample ${i}`).toBe(0);
      else expect(defects, `annotated sample ${i}`).toBeGreaterThan(0);
      expect(Array.from(b.defectCells.subarray(i * CELLS, (i + 1) * CELLS))).toEqual(Array.from(maxPoolMask(mask, SIZE, STRIDE)));
    }
    const defectCells = b.defectCells.reduce((a, v) => a + v, 0);
    expect([b.defectCellCount, b.normalCellCount]).toEqual([defectCells, b.n * CELLS - defectCells]);
    expect(b.normalCells.every((v, k) => v === 1 - b.defectCells[k]!)).toBe(true);
  });

  it('normal images are the decoded pool images, flipped or turned, normalised as the shots', async () => {
    const src = sources();
    const b = await makeBatch(options(), src, rng(2));
    const pixels = SIZE * SIZE;
    // A flat colour is the same under every flip: each normal sample's first pixel names its pool image.
    const normals = src.drawn.slice(2);
    for (let k = 0; k < 4; k++) {
      const want = normalizeImageNet(Float32Array.from([0, 1, 2], () => src.normalBytes[normals[k]!]![0]! / 255));
      const at = (4 + k) * pixels * 4;
      expect(Array.from(b.input.subarray(at, at + 3))).toEqual(Array.from(want));
      expect(b.input[at + 3]).toBe(0);
    }
  });

  it('the paste regions average over the pasted defect and over its source shot slot', async () => {
    const b = await makeBatch(options(), sources(), rng(3));
    const p = b.paste!;
    expect(p.count).toBe(2);
    expect(Array.from(p.isPasted)).toEqual([0, 0, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(p.fixedWeights)).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    const row = b.n * CELLS;
    for (let i = 0; i < b.n; i++) {
      const own = p.pasted.subarray(i * row, (i + 1) * row);
      const source = p.source.subarray(i * row, (i + 1) * row);
      if (b.kinds[i] !== 'pasted') {
        expect(own.every((v) => v === 0) && source.every((v) => v === 0)).toBe(true);
        continue;
      }
      expect(own.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
      expect(source.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
      // Its own row lies in its own block, over exactly its defect cells.
      const cells = b.defectCells.subarray(i * CELLS, (i + 1) * CELLS);
      own.forEach((v, k) => expect(v > 0, `cell ${k}`).toBe(Math.floor(k / CELLS) === i && cells[k % CELLS] === 1));
      // Its source row lies in one block, a shot's, over cells of that shot's defect.
      const blocks = new Set([...source.keys()].filter((k) => source[k]! > 0).map((k) => Math.floor(k / CELLS)));
      expect(blocks.size).toBe(1);
      const from = [...blocks][0]!;
      expect(b.kinds[from]).toBe('shot');
      for (let k = 0; k < CELLS; k++) if (source[from * CELLS + k]! > 0) expect(b.defectCells[from * CELLS + k]).toBe(1);
    }
  });

  it("'near' turns the background as the source shot turned, and keeps the defect near its place", async () => {
    // Shot 0 alone, its defect in the top-left quarter; a background with one bright 4x4 corner far from it.
    const src = sources();
    const shot = src.shots[0]!;
    const corner = new Uint8Array(SIZE * SIZE * 3);
    for (let y = SIZE - 4; y < SIZE; y++) corner.fill(255, (y * SIZE + SIZE - 4) * 3, (y + 1) * SIZE * 3);
    const one: BatchSources = { shots: [shot], normalCount: 1, normal: async () => corner };
    for (let seed = 0; seed < 12; seed++) {
      const b = await makeBatch(options({ layout: { shots: 1, pasted: 1, normals: 0 }, paste: 'near' }), one, rng(seed));
      const pixels = SIZE * SIZE;
      const shotMask = Uint8Array.from(b.target.subarray(0, pixels));
      const pastedMask = Uint8Array.from(b.target.subarray(pixels, 2 * pixels));
      // Find the shot's transform from its mask, then check the background's bright corner moved with it.
      const t = [...Array(8).keys()].find((k) => applyDihedral(shot.mask, SIZE, 1, k).every((v, i) => v === shotMask[i]))!;
      const brightAt = applyDihedral(Uint8Array.from({ length: pixels }, (_, i) => corner[i * 3]!), SIZE, 1, t);
      const pastedImage = b.input.subarray(pixels * 4, 2 * pixels * 4);
      const bright = normalizeImageNet(Float32Array.of(1, 1, 1))[0]!;
      let brightPixels = 0;
      for (let i = 0; i < pixels; i++) {
        if (Math.abs(pastedImage[i * 4]! - bright) < 1e-5) brightPixels++;
        if (brightAt[i]) expect(pastedImage[i * 4], `pixel ${i} under transform ${t}`).toBeCloseTo(bright, 5);
      }
      expect(brightPixels).toBe(16);
      // The defect moved by at most 10% of the size (3 px here) in each direction.
      const centre = (m: Uint8Array) => {
        let [sy, sx, n] = [0, 0, 0];
        m.forEach((v, i) => v && ((sy += Math.floor(i / SIZE)), (sx += i % SIZE), n++));
        return [sy / n, sx / n];
      };
      const [a, c] = [centre(shotMask), centre(pastedMask)];
      expect(Math.abs(a[0]! - c[0]!)).toBeLessThanOrEqual(Math.round(0.1 * SIZE));
      expect(Math.abs(a[1]! - c[1]!)).toBeLessThanOrEqual(Math.round(0.1 * SIZE));
    }
  });

  it('is the same batch for the same seed, and draws every random choice before awaiting an image', async () => {
    const slow: BatchSources = { ...sources(), normal: (i) => new Promise((done) => setTimeout(() => done(sources().normalBytes[i]!), 5 * (6 - i))) };
    const a = await makeBatch(options(), sources(), rng(4));
    const b = await makeBatch(options(), slow, rng(4));
    expect(Buffer.from(a.input.buffer).equals(Buffer.from(b.input.buffer))).toBe(true);
    expect(Buffer.from(a.target.buffer).equals(Buffer.from(b.target.buffer))).toBe(true);
    const c = await makeBatch(options(), sources(), rng(5));
    expect(Buffer.from(a.input.buffer).equals(Buffer.from(c.input.buffer))).toBe(false);
  });

  it('puts synthetic anomalies on normal images after the annotated samples: exact masks, weight 1', async () => {
    const src = sources();
    const b = await makeBatch(options({ layout: batchLayout(4, 2, true, 3) }), src, rng(12));
    expect(b.kinds).toEqual(['shot', 'shot', 'pasted', 'pasted', 'synthetic', 'synthetic', 'synthetic', 'normal', 'normal']);
    expect(Array.from(b.segWeights)).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(b.paste!.fixedWeights)).toEqual([1, 1, 0, 0, 1, 1, 1, 0, 0]);
    const pixels = SIZE * SIZE;
    // Each normal image is one flat colour: outside its mask a synthetic sample is exactly that colour
    // (as packed), inside every pixel differs from it.
    const flat = src.normalBytes.map((bytes) => {
      const one = new Float32Array(pixels * 4);
      packTurned(one, 0, bytes, SIZE, 0);
      return Array.from(one.subarray(0, 3));
    });
    for (let i = 4; i < 7; i++) {
      const mask = b.target.subarray(i * pixels, (i + 1) * pixels);
      const area = mask.reduce((a, v) => a + v, 0);
      expect(area, `sample ${i}`).toBeGreaterThanOrEqual(Math.ceil(0.002 * pixels));
      expect(area, `sample ${i}`).toBeLessThanOrEqual(Math.floor(0.03 * pixels));
      const at = (p: number) => Array.from(b.input.subarray((i * pixels + p) * 4, (i * pixels + p) * 4 + 3));
      const outside = mask.findIndex((v) => v === 0);
      const colour = flat.find((c) => c.every((v, k) => v === at(outside)[k]));
      expect(colour, `sample ${i}: a normal image's colour outside the defect`).toBeDefined();
      for (let p = 0; p < pixels; p++) {
        const same = at(p).every((v, k) => v === colour![k]);
        expect(same, `sample ${i}, pixel ${p}, mask ${mask[p]}`).toBe(mask[p] === 0);
      }
    }
  });

  it('with --paste-slots extra, pasted samples follow a whole batch of shots and carry their paste regions', async () => {
    const b = await makeBatch(options({ layout: batchLayout(4, 1, true, 0, 'extra') }), sources(), rng(14));
    expect(b.kinds).toEqual(['shot', 'shot', 'shot', 'shot', 'pasted', 'pasted', 'normal']);
    expect(Array.from(b.segWeights)).toEqual([1, 1, 1, 1, 1, 1, 0]);
    expect(Array.from(b.paste!.isPasted)).toEqual([0, 0, 0, 0, 1, 1, 0]);
    // Every pasted sample holds a defect (the shots here all have one).
    const pixels = SIZE * SIZE;
    for (const i of [4, 5]) expect(b.target.subarray(i * pixels, (i + 1) * pixels).some((v) => v === 1), `sample ${i}`).toBe(true);
  });

  it('in the synthetic first phase every annotated slot holds a synthetic anomaly; after it, the layout returns', async () => {
    const layout = batchLayout(4, 2, true, 1);
    const o = { syntheticPhase: 0.3, steps: 10 };
    expect(syntheticPhaseSteps(o)).toBe(3);
    expect(syntheticPhaseSteps({ syntheticPhase: 0, steps: 10 })).toBe(0);
    expect(layoutAt(layout, 0, 3)).toEqual({ shots: 0, pasted: 0, synthetic: 5, normals: 2 });
    expect(layoutAt(layout, 2, 3)).toEqual({ shots: 0, pasted: 0, synthetic: 5, normals: 2 });
    expect(layoutAt(layout, 3, 3)).toBe(layout);
    const b = await makeBatch(options({ layout: layoutAt(layout, 0, 3) }), sources(), rng(13));
    expect(b.kinds).toEqual(['synthetic', 'synthetic', 'synthetic', 'synthetic', 'synthetic', 'normal', 'normal']);
    expect(b.n).toBe(layoutSize(layout));
    expect(Array.from(b.segWeights)).toEqual([1, 1, 1, 1, 1, 0, 0]);
    expect(b.paste).toBeNull();
    // Every synthetic sample has a defect to learn from.
    const pixels = SIZE * SIZE;
    for (let i = 0; i < 5; i++) expect(b.target.subarray(i * pixels, (i + 1) * pixels).some((v) => v === 1), `sample ${i}`).toBe(true);
  });

  it('a shots-only batch (the baseline) needs no normal image', async () => {
    const none: BatchSources = { ...sources(), normalCount: 0, normal: () => Promise.reject(new Error('no normal image should be read')) };
    const b = await makeBatch(options({ layout: batchLayout(8, 0, false) }), none, rng(6));
    expect(b.kinds.every((k) => k === 'shot')).toBe(true);
    expect(b.paste).toBeNull();
  });
});
