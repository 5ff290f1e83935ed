// predict's folder listing goes through the data layer's one list of formats: TIFFs are inputs,
// other files are counted in a warning, hidden ones are not, an unread image format is refused.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectImages } from '../../src/cli/predict-files.js';
import { InputError } from '../../src/util/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpuseg-collect-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('collectImages', () => {
  it('lists .tif and .tiff beside .png, and warns once of the files it leaves out', async () => {
    const folder = join(dir, 'line-camera');
    await mkdir(folder);
    const names = ['b.TIFF', 'a.tif', 'c.png', 'c_mask.png', 'notes.txt', 'Thumbs.db', '.DS_Store', '._a.tif'];
    for (const n of names) await writeFile(join(folder, n), '');
    const skipped: string[] = [];
    const images = await collectImages([folder], (m) => skipped.push(m));
    expect(images).toEqual(['a.tif', 'b.TIFF', 'c.png'].map((n) => join(folder, n)));
    expect(skipped).toEqual([
      `'${folder}': left out 2 entries that are not images (e.g. 'Thumbs.db'); gpuseg reads .png .jpg .jpeg .bmp .tif .tiff`,
      `${folder}: left out 1 file(s) named like predict's outputs (*_prob.png, *_mask.png, *_overlay.png, e.g. 'c_mask.png')`,
    ]);
  });

  it('refuses a folder holding an image in a format gpuseg does not read, naming the file', async () => {
    const folder = join(dir, 'web');
    await mkdir(folder);
    await writeFile(join(folder, 'a.png'), '');
    await writeFile(join(folder, 'b.gif'), '');
    const err = await collectImages([folder]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot read image '${join(folder, 'b.gif')}': \\.gif images are not read`));
  });
});
