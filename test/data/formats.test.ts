// Images as cameras write them: TIFF and PNG at 8 and 16 bits, grey and RGB, with alpha, with EXIF
// orientation, not square. Every fixture is written by sharp here with hand-chosen pixel values, and
// read back through the readers the runs use.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImage, imageSize, readImage, readImageBytes, readMask, writePng } from '../../src/data/image.js';
import { isImageName, listImageFolder, nameKind } from '../../src/data/formats.js';
import { readRgb } from '../../src/data/overlay.js';
import { InputError } from '../../src/util/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpuseg-formats-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Raw = Uint8Array | Uint16Array;
/** Writes raw samples (16-bit when given a Uint16Array) as a file sharp encodes by its extension. */
async function write(name: string, data: Raw, width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<string> {
  const path = join(dir, name);
  const wide = data instanceof Uint16Array;
  let image = sharp(data, { raw: { width, height, channels } });
  if (wide) image = image.toColourspace(channels <= 2 ? 'grey16' : 'rgb16');
  else if (channels <= 2) image = image.toColourspace('b-w');
  // sharp's TIFF default is JPEG compression, which is lossy and 8-bit only.
  await (name.endsWith('.png') ? image.png() : image.tiff({ compression: 'lzw' })).toFile(path);
  return path;
}

/** The RGB triples of a read image, scaled to `full` and rounded. */
function triples(rgb: Float32Array, full: number): number[][] {
  const out: number[][] = [];
  for (let p = 0; p < rgb.length; p += 3) out.push([0, 1, 2].map((c) => Math.round(rgb[p + c]! * full)));
  return out;
}

describe('the list of formats', () => {
  it('takes PNG, JPEG, BMP and TIFF in any case; refuses other images; leaves out the rest', () => {
    for (const n of ['a.png', 'a.JPG', 'a.jpeg', 'a.bmp', 'a.tif', 'a.TIFF']) expect(isImageName(n), n).toBe(true);
    expect(nameKind('a.webp')).toBe('unread-image');
    expect(nameKind('notes.txt')).toBe('other');
    expect(nameKind('Thumbs.db')).toBe('other');
    expect(nameKind('.DS_Store')).toBe('hidden');
    expect(nameKind('._000.tif')).toBe('hidden');
  });

  it('lists a folder: images sorted, other entries counted, hidden ones not, an unread image refused', async () => {
    const folder = join(dir, 'listing');
    await mkdir(join(folder, 'sub'), { recursive: true });
    for (const n of ['b.tiff', 'a.tif', 'c.png', 'notes.txt', 'Thumbs.db', '.DS_Store', '._a.tif']) await writeFile(join(folder, n), '');
    const listing = await listImageFolder(folder);
    expect(listing.images).toEqual(['a.tif', 'b.tiff', 'c.png'].map((n) => join(folder, n)));
    expect(listing.ignored).toEqual(['Thumbs.db', 'notes.txt', 'sub']);
    await writeFile(join(folder, 'd.webp'), '');
    const err = await listImageFolder(folder).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`cannot read image '${join(folder, 'd.webp')}': .webp images are not read; gpuseg reads PNG, JPEG, BMP and TIFF (.png .jpg .jpeg .bmp .tif .tiff)`);
  });
});

describe('TIFF and 16-bit samples', () => {
  it('reads an 8-bit RGB TIFF exactly', async () => {
    const pixels = [[10, 20, 30], [200, 100, 50], [0, 255, 128], [77, 1, 254]];
    const path = await write('rgb8.tif', Uint8Array.from(pixels.flat()), 2, 2, 3);
    expect((await sharp(path).metadata()).depth).toBe('uchar');
    expect(triples(await readImage(path, 2), 255)).toEqual(pixels);
    expect(Array.from(await readImageBytes(path, 2))).toEqual(pixels.flat());
    expect(await imageSize(path)).toEqual({ width: 2, height: 2 });
  });

  it('reads an 8-bit grey TIFF as three equal channels', async () => {
    const path = await write('grey8.tif', Uint8Array.from([0, 90, 180, 255]), 2, 2, 1);
    expect(triples(await readImage(path, 2), 255)).toEqual([0, 90, 180, 255].map((v) => [v, v, v]));
  });

  it('scales 16-bit grey TIFF and PNG samples by 65535, keeping their precision', async () => {
    const samples = [40000, 1000, 65535, 0];
    for (const name of ['grey16.tif', 'grey16.png']) {
      const path = await write(name, Uint16Array.from(samples), 2, 2, 1);
      expect((await sharp(path).metadata()).depth, name).toBe('ushort'); // the fixture really is 16-bit
      const rgb = await readImage(path, 2);
      for (let p = 0; p < 4; p++) {
        for (let c = 0; c < 3; c++) expect(rgb[p * 3 + c], `${name} pixel ${p}`).toBeCloseTo(samples[p]! / 65535, 6);
      }
      // 40000 / 65535 = 0.61036; an 8-bit path would give 156 / 255 = 0.61176: the precision is kept.
      expect(Math.abs(rgb[0]! - 156 / 255)).toBeGreaterThan(1e-3);
      // The bytes a run caches are the samples rounded to 8 bits: 40000 / 257 = 155.6.
      expect(Array.from(await readImageBytes(path, 2)).filter((_, i) => i % 3 === 0)).toEqual([156, 4, 255, 0]);
    }
  });

  it('reads a 16-bit RGB TIFF per channel, and keeps 16 bits through a resize', async () => {
    const pixels = [[40000, 1000, 65535], [0, 30000, 20000]];
    const path = await write('rgb16.tif', Uint16Array.from(pixels.flat()), 2, 1, 3);
    // 2x1 padded to 2x2: the odd row of padding goes below.
    expect(triples(await readImage(path, 2, 'pad'), 65535)).toEqual([...pixels, [0, 0, 0], [0, 0, 0]]);
    // A uniform 16-bit image resized down keeps its level to within a 16-bit step, not an 8-bit one.
    const level = 4095; // a 12-bit camera's white in a 16-bit file
    const flat = await write('level16.tif', new Uint16Array(8 * 8).fill(level), 8, 8, 1);
    for (const v of await readImage(flat, 4)) expect(Math.abs(v - level / 65535)).toBeLessThanOrEqual(1.5 / 65535);
  });

  it('drops alpha without darkening what lies under transparent pixels, at 8 and 16 bits', async () => {
    const rgba = Uint8Array.from([100, 50, 60, 255, 100, 50, 60, 0, 100, 50, 60, 0, 100, 50, 60, 255]);
    const path8 = await write('rgba8.png', rgba, 2, 2, 4);
    for (const t of triples(await readImage(path8, 4), 255)) expect(t).toEqual([100, 50, 60]);
    const greyAlpha = Uint16Array.from([40000, 65535, 40000, 0, 40000, 0, 40000, 65535]);
    const path16 = await write('grey-alpha16.tif', greyAlpha, 2, 2, 2);
    expect((await sharp(path16).metadata()).hasAlpha).toBe(true);
    for (const v of await readImage(path16, 4)) expect(v).toBeCloseTo(40000 / 65535, 4);
  });

  it('reads a TIFF mask (8- and 16-bit) as 0/1', async () => {
    const mask8 = await write('mask8.tif', Uint8Array.from([0, 255, 255, 0]), 2, 2, 1);
    expect(Array.from(await readMask(mask8, 2))).toEqual([0, 1, 1, 0]);
    const mask16 = await write('mask16.tif', Uint16Array.from([0, 65535, 30000, 40000]), 2, 2, 1);
    // 30000 / 257 = 117 is below the threshold 127; 40000 / 257 = 156 above it.
    expect(Array.from(await readMask(mask16, 2))).toEqual([0, 1, 0, 1]);
  });
});

describe('EXIF orientation', () => {
  /** 16x8 as stored, left half `left`, right half `right`; orientation 6 shows it turned 90° clockwise. */
  async function turned(name: string, left: number, right: number): Promise<string> {
    const px = new Uint8Array(16 * 8).map((_, i) => (i % 16 < 8 ? left : right));
    const path = join(dir, name);
    const image = sharp(px, { raw: { width: 16, height: 8, channels: 1 } }).toColourspace('b-w');
    await (name.endsWith('.jpg') ? image.jpeg({ quality: 100 }) : image.png()).withMetadata({ orientation: 6 }).toFile(path);
    expect((await sharp(path).metadata()).orientation).toBe(6);
    return path;
  }

  it('reports and reads an image as it is shown: 16x8 stored reads 8x16, its left half on top', async () => {
    const path = await turned('turned.jpg', 0, 255);
    expect(await imageSize(path)).toEqual({ width: 8, height: 16 });
    expect(await checkImage(path)).toEqual({ width: 8, height: 16 });
    const rgb = await readImage(path, 8);
    const rowMean = (y: number) => rgb.subarray(y * 24, (y + 1) * 24).reduce((a, b) => a + b) / 24;
    for (let y = 0; y < 3; y++) expect(rowMean(y), `row ${y}`).toBeLessThan(0.05);
    for (let y = 5; y < 8; y++) expect(rowMean(y), `row ${y}`).toBeGreaterThan(0.95);
    // predict's picture of the image at its own size is turned the same way.
    const own = await readRgb(path);
    expect([own.width, own.height]).toEqual([8, 16]);
    expect(own.data[0]).toBeLessThan(10);
    expect(own.data[own.data.length - 1]).toBeGreaterThan(245);
  });

  it('turns masks too', async () => {
    const path = await turned('turned-mask.png', 255, 0);
    expect(await imageSize(path, 'mask')).toEqual({ width: 8, height: 16 });
    const mask = await readMask(path, 8);
    expect(Array.from(mask)).toEqual(Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : 0)));
  });
});

describe('resize policy', () => {
  it("stretches by default; 'pad' fits the image centred and fills with black (mask: no defect)", async () => {
    const image = await write('wide.png', new Uint8Array(8 * 4).fill(255), 8, 4, 1);
    const mask = await write('wide-mask.png', new Uint8Array(8 * 4).fill(255), 8, 4, 1);
    expect(Array.from(await readImage(image, 8)).every((v) => v === 1)).toBe(true);
    expect(Array.from(await readMask(mask, 8)).every((v) => v === 1)).toBe(true);
    // 8x4 in 8x8: rows 2 to 5 hold the image, rows 0-1 and 6-7 are padding.
    const inside = (i: number) => i >= 16 && i < 48;
    const padded = await readImage(image, 8, 'pad');
    for (let p = 0; p < 64; p++) expect(Array.from(padded.subarray(p * 3, p * 3 + 3)), `pixel ${p}`).toEqual(inside(p) ? [1, 1, 1] : [0, 0, 0]);
    expect(Array.from(await readMask(mask, 8, 'pad'))).toEqual(Array.from({ length: 64 }, (_, p) => (inside(p) ? 1 : 0)));
  });

  it('refuses a policy it does not know', async () => {
    const image = await write('square.png', new Uint8Array(4).fill(9), 2, 2, 1);
    await expect(readImage(image, 2, 'crop' as 'pad')).rejects.toThrow(/resize policy must be one of stretch, pad, got 'crop'/);
  });
});

describe('writePng', () => {
  it('writes a one-channel image as a one-channel PNG, and RGB as three', async () => {
    const mask = Uint8Array.from([0, 255, 255, 0, 128, 7]);
    const path = join(dir, 'out', 'x_mask.png');
    await writePng(path, mask, 3, 2, 1);
    const meta = await sharp(path).metadata();
    expect(meta.channels).toBe(1);
    expect(meta.space).toBe('b-w');
    const back = await sharp(path).toColourspace('b-w').raw().toBuffer();
    expect(Array.from(back)).toEqual(Array.from(mask));
    const rgbPath = join(dir, 'out', 'x_overlay.png');
    await writePng(rgbPath, new Uint8Array(18).fill(3), 3, 2, 3);
    expect((await sharp(rgbPath).metadata()).channels).toBe(3);
  });
});
