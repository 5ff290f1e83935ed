// The run report says how eval.json's images were measured: resized to the model's size, or at their own
// size in tiles (with the tile and the scale it records), in the metrics note and above the image grid.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRunReport } from '../../src/report/index.js';
import { FIXTURE_SIZE, writeRunFixture } from './fixtures.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpuseg-report-inference-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The report's text of a fixture run whose eval.json records `inference` (left out when undefined). */
async function reportWith(name: string, inference: object | undefined): Promise<string> {
  const run = join(root, name);
  await writeRunFixture(run);
  const evalPath = join(run, 'eval.json');
  const evaluation = JSON.parse(await readFile(evalPath, 'utf8'));
  await writeFile(evalPath, JSON.stringify({ ...evaluation, inference }));
  const html = await readFile(await writeRunReport(run), 'utf8');
  return html.replaceAll('&#39;', "'");
}

const size = `${FIXTURE_SIZE}x${FIXTURE_SIZE}`;

describe('the run report on how the evaluation ran', () => {
  it('tiles: names the tile size and the scale, and says the grid is only shown resized', async () => {
    const html = await reportWith('tiles', { mode: 'tiles', tile: 256, overlap: 64, scale: 0.5, batch: 4, window: 'raised-cosine' });
    expect(html).toContain("measured at each image's own size times 0.5 in overlapping 256x256 tiles, pixels pooled");
    expect(html).toContain(`images measured at each image's own size times 0.5 in overlapping 256x256 tiles, shown here resized to ${size}.`);
    expect(html).not.toContain("images resized to the model's");
  });

  it('tiles at scale 1: no scale named', async () => {
    const html = await reportWith('tiles-1', { mode: 'tiles', tile: 128, overlap: 32, scale: 1, batch: 2 });
    expect(html).toContain("measured at each image's own size in overlapping 128x128 tiles, pixels pooled");
    expect(html).not.toContain('times 1');
  });

  it('resize, and an eval.json from before tiles: resized to the model size', async () => {
    for (const [name, inference] of [['resize', { mode: 'resize', size: FIXTURE_SIZE }], ['older', undefined]] as const) {
      const html = await reportWith(name, inference);
      expect(html, name).toContain(`measured with images resized to the model's ${size}, pixels pooled`);
      expect(html, name).toContain(`images resized to the model's ${size}.`);
      expect(html, name).not.toContain('tiles');
    }
  });

  it('resize with --resize pad: says the images were scaled to fit', async () => {
    const html = await reportWith('pad', { mode: 'resize', size: FIXTURE_SIZE, resize: 'pad' });
    expect(html).toContain(`measured with images scaled to fit (padded to a square) to the model's ${size}, pixels pooled`);
  });
});
