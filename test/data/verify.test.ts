import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImage, readMask, writePng } from '../../src/data/image.js';
import { readCategory } from '../../src/data/mvtec.js';
import { verifyCategory } from '../../src/data/verify.js';
import { InputError } from '../../src/util/errors.js';

const SIDE = 8;
let root: string;
let made = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpuseg-verify-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const grey = (value = 128) => new Uint8Array(SIDE * SIDE).fill(value);
/** A binary mask: the top-left quarter is defect. */
const square = () => grey(0).map((_, i) => (i % SIDE < SIDE / 2 && i < (SIDE * SIDE) / 2 ? 255 : 0));

/** A category with 3 normal, 1 good test and 2 'hole' images with binary masks. */
async function category(): Promise<string> {
  const dir = join(root, `c${made++}`);
  for (let i = 0; i < 3; i++) await writePng(join(dir, 'train', 'good', `00${i}.png`), grey(), SIDE, SIDE, 1);
  await writePng(join(dir, 'test', 'good', '000.png'), grey(), SIDE, SIDE, 1);
  for (let i = 0; i < 2; i++) {
    await writePng(join(dir, 'test', 'hole', `00${i}.png`), grey(), SIDE, SIDE, 1);
    await writePng(join(dir, 'ground_truth', 'hole', `00${i}_mask.png`), square(), SIDE, SIDE, 1);
  }
  return dir;
}

async function problem(dir: string): Promise<string> {
  const err = await readCategory(dir).then(verifyCategory).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('verifyCategory', () => {
  it('passes a clean category with no warning, and counts every file', async () => {
    const dir = await category();
    const ticks: number[] = [];
    const check = await verifyCategory(await readCategory(dir), (done, total) => ticks.push(done, total));
    expect(check.warnings).toEqual([]);
    expect(ticks.at(-2)).toBe(6);
    expect(ticks.at(-1)).toBe(6);
  });

  it('warns of an empty defect type folder and of a ground-truth folder without its test folder, naming each', async () => {
    const dir = await category();
    await mkdir(join(dir, 'test', 'crack'));
    await writePng(join(dir, 'ground_truth', 'stain', '000_mask.png'), square(), SIDE, SIDE, 1);
    const check = await verifyCategory(await readCategory(dir));
    expect(check.warnings).toEqual([
      `defect type folder '${join(dir, 'test', 'crack')}' holds no images: the type is left out`,
      `'${join(dir, 'ground_truth', 'stain')}' has no test folder '${join(dir, 'test', 'stain')}': its masks are not used`,
    ]);
  });

  it('refuses a truncated, an empty and a text file in every folder, naming the file', async () => {
    const cases: [string, RegExp][] = [
      [join('train', 'good', '002.png'), /truncated or damaged image data/],
      [join('test', 'good', '000.png'), /the file is empty \(0 bytes\)/],
      [join('test', 'hole', '001.png'), /not an image, or a format that cannot be read \(PNG, JPEG, BMP and TIFF are/],
      [join('ground_truth', 'hole', '000_mask.png'), /truncated or damaged image data/],
    ];
    for (const [[file, message], i] of cases.map((c, k) => [c, k] as const)) {
      const dir = await category();
      const path = join(dir, file);
      const bytes = await readFile(path);
      const broken = [bytes.subarray(0, bytes.length - 30), new Uint8Array(0), new TextEncoder().encode('hello\n'), bytes.subarray(0, 60)][i]!;
      await writeFile(path, broken);
      const text = await problem(dir);
      expect(text).toContain(path);
      expect(text).toMatch(message);
    }
  });

  it('refuses a mask of another size than its image', async () => {
    const dir = await category();
    const mask = join(dir, 'ground_truth', 'hole', '001_mask.png');
    await writePng(mask, new Uint8Array(16 * 16), 16, 16, 1);
    expect(await problem(dir)).toBe(`mask '${mask}' is 16x16 but its image '${join(dir, 'test', 'hole', '001.png')}' is 8x8`);
  });

  it('refuses a mask drawn in alpha alone, but takes an opaque RGBA mask', async () => {
    const dir = await category();
    const mask = join(dir, 'ground_truth', 'hole', '000_mask.png');
    const rgba = (alpha: (i: number) => number, colour: (i: number) => number) =>
      sharp(Buffer.from(Uint8Array.from({ length: SIDE * SIDE * 4 }, (_, k) => (k % 4 === 3 ? alpha(k >> 2) : colour(k >> 2)))), {
        raw: { width: SIDE, height: SIDE, channels: 4 },
      })
        .png()
        .toFile(mask);
    const inside = square();
    await rgba((i) => inside[i]!, () => 0);
    expect(await problem(dir)).toMatch(new RegExp(`mask '${mask}' draws its defect in the alpha channel only`));
    await rgba(() => 255, (i) => inside[i]!);
    expect((await verifyCategory(await readCategory(dir))).warnings).toEqual([]);
  });

  it('refuses a category whose masks are all empty, naming the faintest value', async () => {
    const dir = await category();
    for (let i = 0; i < 2; i++) await writePng(join(dir, 'ground_truth', 'hole', `00${i}_mask.png`), grey(100), SIDE, SIDE, 1);
    expect(await problem(dir)).toMatch(/every mask of '.*' is empty \(no pixel above 127, e\.g\. '.*000_mask\.png' whose largest value is 100\)/);
  });

  it('warns once for grey-level masks and for an empty mask, and goes on', async () => {
    const dir = await category();
    await writePng(join(dir, 'ground_truth', 'hole', '000_mask.png'), square().map((v) => (v ? 200 : 30)), SIDE, SIDE, 1);
    await writePng(join(dir, 'ground_truth', 'hole', '001_mask.png'), grey(0), SIDE, SIDE, 1);
    const { warnings } = await verifyCategory(await readCategory(dir));
    expect(warnings).toEqual([
      `1 mask(s) are not binary (e.g. '${join(dir, 'ground_truth', 'hole', '000_mask.png')}'): pixels above 127 count as defect`,
      `1 defect image(s) have an empty mask (no pixel above 127, e.g. '${join(dir, 'ground_truth', 'hole', '001_mask.png')}'): they count as defect-free`,
    ]);
    // Above 127 is defect: the 200s, not the 30s.
    expect(Array.from(await readMask(join(dir, 'ground_truth', 'hole', '000_mask.png'), SIDE))).toEqual(Array.from(square(), (v) => (v ? 1 : 0)));
  });

  it('converts 16-bit, greyscale, palette and RGBA images to the same RGB', async () => {
    const dir = join(root, 'formats');
    await mkdir(dir, { recursive: true });
    const value = 200;
    const rgb = Buffer.from(new Uint8Array(SIDE * SIDE * 3).fill(value));
    const files = {
      grey: sharp(Buffer.from(grey(value)), { raw: { width: SIDE, height: SIDE, channels: 1 } }).png(),
      sixteen: sharp(rgb, { raw: { width: SIDE, height: SIDE, channels: 3 } }).toColourspace('rgb16').png(),
      palette: sharp(rgb, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png({ palette: true }),
      rgba: sharp(Buffer.from(new Uint8Array(SIDE * SIDE * 4).map((_, k) => (k % 4 === 3 ? 255 : value))), { raw: { width: SIDE, height: SIDE, channels: 4 } }).png(),
    };
    for (const [name, image] of Object.entries(files)) {
      const path = join(dir, `${name}.png`);
      await image.toFile(path);
      const read = await readImage(path, SIDE);
      expect(read.length, name).toBe(SIDE * SIDE * 3);
      for (const v of read) expect(Math.abs(v - value / 255), name).toBeLessThan(1.5 / 255);
    }
    const meta = await sharp(join(dir, 'sixteen.png')).metadata();
    expect(meta.depth).toBe('ushort'); // the fixture really is 16-bit
    expect((await sharp(join(dir, 'palette.png')).metadata()).isPalette).toBe(true);
  });
});
