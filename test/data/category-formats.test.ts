// A category folder as a line camera fills it: TIFF images and masks, stray files beside them, images
// that are not square. Read through readCategory and verifyCategory, as train reads it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMask } from '../../src/data/image.js';
import { readCategory } from '../../src/data/mvtec.js';
import { verifyCategory } from '../../src/data/verify.js';
import { InputError } from '../../src/util/errors.js';

let root: string;
let made = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpuseg-category-formats-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A 16-bit grey TIFF (LZW: sharp's default TIFF compression is lossy JPEG) of width x height. */
async function tiff(path: string, width: number, height: number, value: (i: number) => number): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const data = Uint16Array.from({ length: width * height }, (_, i) => value(i));
  await sharp(data, { raw: { width, height, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(path);
}

/** A category of TIFFs only: 3 normal (.tif), 1 good test (.tiff), 2 'crack' images with .tif masks. */
async function tiffCategory(width = 8, height = 8): Promise<string> {
  const dir = join(root, `c${made++}`);
  const grey = () => 30000;
  for (let i = 0; i < 3; i++) await tiff(join(dir, 'train', 'good', `00${i}.tif`), width, height, grey);
  await tiff(join(dir, 'test', 'good', '000.tiff'), width, height, grey);
  for (let i = 0; i < 2; i++) {
    await tiff(join(dir, 'test', 'crack', `00${i}.tif`), width, height, grey);
    // The first row is defect.
    await tiff(join(dir, 'ground_truth', 'crack', `00${i}_mask.tif`), width, height, (k) => (k < width ? 65535 : 0));
  }
  return dir;
}

async function refusal(dir: string): Promise<string> {
  const err = await readCategory(dir).then((c) => verifyCategory(c)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return (err as Error).message;
}

describe('a category of TIFFs', () => {
  it('is read whole: normal images, good test images, and the defect type with its masks', async () => {
    const dir = await tiffCategory();
    const category = await readCategory(dir);
    expect(category.trainGood).toEqual(['000', '001', '002'].map((n) => join(dir, 'train', 'good', `${n}.tif`)));
    expect(category.testGood).toEqual([join(dir, 'test', 'good', '000.tiff')]);
    expect(category.defects).toEqual(
      ['000', '001'].map((n) => ({ type: 'crack', image: join(dir, 'test', 'crack', `${n}.tif`), mask: join(dir, 'ground_truth', 'crack', `${n}_mask.tif`) })),
    );
    expect((await verifyCategory(category)).warnings).toEqual([]);
    expect(Array.from(await readMask(category.defects[0]!.mask, 8))).toEqual(Array.from({ length: 64 }, (_, i) => (i < 8 ? 1 : 0)));
  });

  it('refuses a defect image that does not decode, naming it, instead of leaving its type out', async () => {
    const dir = await tiffCategory();
    const bad = join(dir, 'test', 'crack', '002.tif');
    await writeFile(bad, 'II*\u0000 a camera that stopped writing');
    await tiff(join(dir, 'ground_truth', 'crack', '002_mask.tif'), 8, 8, () => 0);
    expect(await refusal(dir)).toBe(`cannot read image '${bad}': truncated or damaged image data (it starts as a TIFF but cannot be decoded)`);
  });

  it('refuses an image in a format it does not read, naming it', async () => {
    const dir = await tiffCategory();
    const webp = join(dir, 'train', 'good', '003.webp');
    await sharp(new Uint8Array(64), { raw: { width: 8, height: 8, channels: 1 } }).webp().toFile(webp);
    expect(await refusal(dir)).toMatch(new RegExp(`^cannot read image '${webp}': \\.webp images are not read; gpuseg reads PNG, JPEG, BMP and TIFF`));
  });

  it('warns once per folder of the other files it leaves out, and not of hidden ones', async () => {
    const dir = await tiffCategory();
    const good = join(dir, 'train', 'good');
    for (const n of ['notes.txt', 'Thumbs.db', '.DS_Store', '._000.tif']) await writeFile(join(good, n), 'x');
    await writeFile(join(dir, 'ground_truth', 'crack', 'README.md'), 'x');
    const category = await readCategory(dir);
    expect(category.trainGood).toHaveLength(3);
    expect((await verifyCategory(category)).warnings).toEqual([
      `'${good}': left out 2 entries that are not images (e.g. 'Thumbs.db'); gpuseg reads .png .jpg .jpeg .bmp .tif .tiff`,
      `'${join(dir, 'ground_truth', 'crack')}': left out 1 entry that is not an image (e.g. 'README.md'); gpuseg reads .png .jpg .jpeg .bmp .tif .tiff`,
    ]);
  });

  it("warns once of images that are not square when they are stretched, naming the first; not under 'pad' or tiles", async () => {
    const dir = await tiffCategory(12, 8);
    const category = await readCategory(dir);
    expect((await verifyCategory(category)).warnings).toEqual([
      `6 of 6 image(s) are not square, e.g. '${join(dir, 'train', 'good', '000.tif')}' (12x8, aspect 1.5): each is stretched to --size x --size, ` +
        'which changes the shapes of defects; tiles (--tile) or --resize pad avoid it',
    ]);
    expect((await verifyCategory(category, () => {}, { resize: 'pad' })).warnings).toEqual([]);
    expect((await verifyCategory(category, () => {}, { tiled: true })).warnings).toEqual([]);
  });
});
