// predict's verdicts through the CLI on a tiny trained run (2 steps at 32x32): verdicts.csv has a row
// per image whose OK/NG, score and largest box agree with the regions of the _mask.png written beside it
// (8-connected components counted here, by a fill of this file's own), --json carries the same, a name
// with a comma and quotes survives the CSV, and a verdicts.csv that predict did not write is refused.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../util/csv-parse.js';
import { gpuseg, useTinyCategory } from './gpuseg.js';

const tiny = useTinyCategory('gpuseg-verdicts-');
const AWKWARD = 'lot 7, "B".png';

interface Blob {
  area: number;
  box: [number, number, number, number];
}

async function grey(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data: Uint8Array.from({ length: info.width * info.height }, (_, i) => data[i * info.channels]!), width: info.width, height: info.height };
}

/** The 8-connected regions of a mask in the raster order of their first pixel: area and box (x, y, width, height). */
function blobs(mask: Uint8Array, width: number, height: number): Blob[] {
  const seen = new Uint8Array(mask.length);
  const out: Blob[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    seen[start] = 1;
    const queue = [start];
    let [x0, y0, x1, y1] = [width, height, -1, -1];
    for (let q = 0; q < queue.length; q++) {
      const x = queue[q]! % width;
      const y = Math.floor(queue[q]! / width);
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      for (const [dx, dy] of [[-1, -1], [0, -1], [1, -1], [-1, 0], [1, 0], [-1, 1], [0, 1], [1, 1]] as const) {
        const [nx, ny] = [x + dx, y + dy];
        const n = ny * width + nx;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height || !mask[n] || seen[n]) continue;
        seen[n] = 1;
        queue.push(n);
      }
    }
    out.push({ area: queue.length, box: [x0, y0, x1 - x0 + 1, y1 - y0 + 1] });
  }
  return out;
}

/** The largest region (the first of equal ones), or null. */
const largest = (b: Blob[]) => b.reduce<Blob | null>((best, r) => (best === null || r.area > best.area ? r : best), null);

/** verdicts.csv as records keyed by its header. */
function readCsv(file: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(readFileSync(file, 'utf8'));
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
}

/** Every image's row agrees with its written mask at --min-area minArea; returns the masks' regions. */
async function expectRowsMatchMasks(out: string, written: { image: string; mask: string }[], minArea: number): Promise<Blob[][]> {
  const rows = readCsv(join(out, 'verdicts.csv'));
  const regionRows = readCsv(join(out, 'regions.csv'));
  expect(rows.map((r) => r.image)).toEqual(written.map((w) => w.image));
  const all: Blob[][] = [];
  for (const [i, w] of written.entries()) {
    const m = await grey(w.mask);
    const b = blobs(m.data, m.width, m.height);
    all.push(b);
    const top = largest(b);
    const row = rows[i]!;
    expect(row.verdict, w.image).toBe(top !== null && top.area >= minArea ? 'NG' : 'OK');
    expect(Number(row.score_px)).toBe(top?.area ?? 0);
    expect(Number(row.regions)).toBe(b.length);
    expect([row.box_x, row.box_y, row.box_width, row.box_height]).toEqual(top ? top.box.map(String) : ['', '', '', '']);
    const mine = regionRows.filter((r) => r.image === w.image);
    // No cap reached at 32x32 here: every region is listed, largest first, and together they are the mask.
    expect(mine.map((r) => Number(r.area_px))).toEqual(b.map((r) => r.area).sort((x, y) => y - x));
    expect(mine.map((r) => Number(r.region))).toEqual(b.map((_, k) => k + 1));
  }
  return all;
}

describe('predict: a verdict per image', () => {
  let run = '';
  let images = '';
  beforeAll(() => {
    run = join(tiny.dir, 'run');
    const r = gpuseg(['train', '--data', tiny.category, '--out', run, '--size', '32', '--batch', '2', '--steps', '2', '--validate-every', '0', '--no-eval']);
    expect(r.status, r.stderr).toBe(0);
    images = join(tiny.dir, 'images');
    mkdirSync(images);
    for (const n of ['000.png', '001.png', '002.png']) copyFileSync(join(tiny.category, 'test', 'hole', n), join(images, `hole-${n}`));
    for (const n of ['000.png', '001.png']) copyFileSync(join(tiny.category, 'test', 'good', n), join(images, `good-${n}`));
    copyFileSync(join(tiny.category, 'test', 'scratch', '000.png'), join(images, AWKWARD));
  });

  it('verdicts.csv and --json agree with the masks written, at the default --min-area and at one that splits the images', async () => {
    const out = join(tiny.dir, 'out');
    let r = gpuseg(['predict', images, '--model', run, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    // The run's own region size (threshold.json), which its held-out normal images never reach.
    expect(res.minArea).toBe(JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8')).minArea);
    expect(res.minAreaSource).toBe('threshold.json');
    expect(res.verdictsCsv).toBe(join(out, 'verdicts.csv'));
    expect(res.images.map((w: { image: string }) => w.image)).toContain(join(images, AWKWARD));
    const regions = await expectRowsMatchMasks(out, res.images, res.minArea);
    const rows = readCsv(join(out, 'verdicts.csv'));
    for (const [i, w] of res.images.entries()) {
      const top = largest(regions[i]!);
      expect(w).toMatchObject({ verdict: rows[i]!.verdict, score: top?.area ?? 0, regionCount: regions[i]!.length, regionsOmitted: 0 });
      expect(w.maxProbability.toFixed(4)).toBe(rows[i]!.max_probability);
      expect(w.regions.reduce((n: number, g: { area: number }) => n + g.area, 0)).toBe(w.defectPixels);
      if (top) expect([w.regions[0].x, w.regions[0].y, w.regions[0].width, w.regions[0].height]).toEqual(top.box);
    }

    // A threshold that leaves about a tenth of all pixels above it (from the probability maps, which do not
    // depend on it), and a --min-area equal to the largest region there: some images NG, some OK.
    const probs = await Promise.all(res.images.map((w: { probability: string }) => grey(w.probability)));
    const pooled = probs.flatMap((p) => [...p.data]).sort((a, b) => a - b);
    const g = Math.min(254, pooled[Math.floor(pooled.length * 0.9)]!);
    const t = (g + 0.5) / 255;
    const areas = probs.map((p) => largest(blobs(Uint8Array.from(p.data, (v) => (v > g ? 1 : 0)), p.width, p.height))?.area ?? 0);
    const minArea = Math.max(...areas);
    expect(new Set(areas).size, `largest areas ${areas}`).toBeGreaterThan(1);
    // Into the same folder: the CSVs of the first predict are its own, so it may replace them.
    r = gpuseg(['predict', images, '--model', run, '--out', out, '--threshold', String(t), '--min-area', String(minArea)]);
    expect(r.status, r.stderr).toBe(0);
    await expectRowsMatchMasks(out, res.images, minArea);
    const ng = readCsv(join(out, 'verdicts.csv')).filter((row) => row.verdict === 'NG');
    expect(ng.length).toBe(areas.filter((a) => a >= minArea).length);
    const lines = r.stdout.trim().split('\n');
    expect(lines[1]).toBe(`${areas.length - ng.length} OK, ${ng.length} NG (NG: a region of at least ${minArea} px above the threshold, --min-area); per image in verdicts.csv, per region in regions.csv`);
    expect(lines.slice(2).map((l) => l.replace(/^ {2}NG +\d+ px {2}max p \d\.\d{4} {2}/, '')).sort()).toEqual(ng.map((row) => row.image).sort());
  });

  it("a predict that fails half-way leaves the verdicts of the images it finished, not the earlier run's", () => {
    const out = join(tiny.dir, 'out'); // where the case above wrote verdicts for all six images
    expect(readCsv(join(out, 'verdicts.csv'))).toHaveLength(6);
    // The second image's forward pass (submit 2) loses the device, as in gpu-trouble.test.ts.
    const r = gpuseg(['predict', images, '--model', run, '--out', out, '--json'], { GPUSEG_FAULT: 'gpu-lost-at-submit:2' });
    expect(r.status, r.stderr).toBe(1);
    expect(readCsv(join(out, 'verdicts.csv')).map((row) => row.image)).toEqual([join(images, 'good-000.png')]);
    for (const row of readCsv(join(out, 'regions.csv'))) expect(row.image).toBe(join(images, 'good-000.png'));
  });

  it('refuses a verdicts.csv it did not write, naming it, before loading the model', () => {
    const out = join(tiny.dir, 'foreign');
    mkdirSync(out);
    writeFileSync(join(out, 'verdicts.csv'), 'mine\r\n');
    const r = gpuseg(['predict', join(images, 'good-000.png'), '--model', run, '--out', out]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`gpuseg: '${join(out, 'verdicts.csv')}' exists and was not written by gpuseg predict; choose another --out`);
    expect(readFileSync(join(out, 'verdicts.csv'), 'utf8')).toBe('mine\r\n');
  });

  it('refuses a --min-area that is not a positive integer', () => {
    const r = gpuseg(['predict', join(images, 'good-000.png'), '--model', run, '--out', join(tiny.dir, 'x'), '--min-area', '0']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--min-area must be a positive integer/);
  });
});
