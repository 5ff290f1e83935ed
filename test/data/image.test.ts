import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IMAGENET_MEAN,
  MAX_PIXELS,
  IMAGENET_STD,
  imageSize,
  normalizeImageNet,
  readImage,
  readMask,
  writePng,
} from '../../src/data/image.js';
import { decodeBmp } from '../../src/data/bmp.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpuseg-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SIDE = 32;
const DARK = 20;
const BRIGHT = 230;

/** A vertical step edge: the worst case for a ringing resize kernel. */
function stepEdge(channels: 1 | 3): Uint8Array {
  const data = new Uint8Array(SIDE * SIDE * channels);
  for (let p = 0; p < SIDE * SIDE; p++) {
    data.fill(p % SIDE < SIDE / 2 ? DARK : BRIGHT, p * channels, (p + 1) * channels);
  }
  return data;
}

describe('readImage', () => {
  it('replicates a greyscale PNG to three equal channels', async () => {
    const path = join(dir, 'grey.png');
    await writePng(path, stepEdge(1), SIDE, SIDE, 1);
    const rgb = await readImage(path, SIDE);
    expect(rgb.length).toBe(SIDE * SIDE * 3);
    for (let p = 0; p < SIDE * SIDE; p++) {
      expect(rgb[p * 3 + 1]).toBe(rgb[p * 3]);
      expect(rgb[p * 3 + 2]).toBe(rgb[p * 3]);
    }
    expect(rgb[0]).toBeCloseTo(DARK / 255, 6);
    expect(rgb[(SIDE - 1) * 3]).toBeCloseTo(BRIGHT / 255, 6);
  });

  it.each([7, 17, 32, 100, 256])('resizes a step edge to %i px without overshooting the input range', async (size) => {
    const path = join(dir, 'step.png');
    await writePng(path, stepEdge(3), SIDE, SIDE, 3);
    const rgb = await readImage(path, size);
    expect(rgb.length).toBe(size * size * 3);
    const lo = rgb.reduce((a, b) => Math.min(a, b));
    const hi = rgb.reduce((a, b) => Math.max(a, b));
    expect(lo).toBeGreaterThanOrEqual(DARK / 255 - 1e-6);
    expect(hi).toBeLessThanOrEqual(BRIGHT / 255 + 1e-6);
    // The edge survives: both sides are still present.
    expect(lo).toBeLessThan(0.2);
    expect(hi).toBeGreaterThan(0.8);
  });

  it('drops alpha and reads grey+alpha as grey', async () => {
    const rgba = new Uint8Array(4 * 4 * 4);
    for (let p = 0; p < 16; p++) rgba.set([200, 100, 50, p * 16], p * 4);
    const rgbaPath = join(dir, 'rgba.png');
    await sharp(Buffer.from(rgba), { raw: { width: 4, height: 4, channels: 4 } }).png().toFile(rgbaPath);
    const rgb = await readImage(rgbaPath, 4);
    for (let p = 0; p < 16; p++) {
      expect(Array.from(rgb.subarray(p * 3, p * 3 + 3)).map((v) => Math.round(v * 255))).toEqual([200, 100, 50]);
    }
    const greyAlpha = new Uint8Array(4 * 4 * 2);
    for (let p = 0; p < 16; p++) greyAlpha.set([90, 255 - p], p * 2);
    const gaPath = join(dir, 'grey-alpha.png');
    await sharp(Buffer.from(greyAlpha), { raw: { width: 4, height: 4, channels: 2 } }).png().toFile(gaPath);
    const grey = await readImage(gaPath, 4);
    expect(Array.from(grey).every((v) => Math.round(v * 255) === 90)).toBe(true);
  });

  it('scales a 16-bit PNG to [0, 1] like an 8-bit one', async () => {
    const level = 40000;
    const path = join(dir, 'deep.png');
    await sharp(new Uint16Array(4 * 4 * 3).fill(level), { raw: { width: 4, height: 4, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toFile(path);
    const rgb = await readImage(path, 4);
    for (const v of rgb) expect(Math.abs(v - level / 65535)).toBeLessThanOrEqual(1 / 255);
    const maskPath = join(dir, 'deep-mask.png');
    await sharp(Uint16Array.from([0, 20000, 50000, 65535]), { raw: { width: 4, height: 1, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(maskPath);
    expect(Array.from((await readMask(maskPath, 4)).subarray(0, 4))).toEqual([0, 0, 1, 1]);
  });

  it('fails with one line naming the file when it is missing, not an image, or truncated', async () => {
    const missing = join(dir, 'missing.png');
    const text = join(dir, 'text.png');
    await writeFile(text, 'not an image');
    const truncated = join(dir, 'truncated.png');
    const whole = await sharp(Buffer.from(stepEdge(3)), { raw: { width: SIDE, height: SIDE, channels: 3 } })
      .png()
      .toBuffer();
    await writeFile(truncated, whole.subarray(0, 40));
    for (const path of [missing, text, truncated, dir]) {
      const err = await readImage(path, 8).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain(path);
      expect((err as Error).message).not.toContain('\n');
      const sizeErr = await imageSize(path).catch((e: unknown) => e as Error);
      expect(sizeErr).toBeInstanceOf(Error);
      expect((sizeErr as Error).message).toContain(path);
      expect((sizeErr as Error).message).not.toContain('\n');
    }
    // sharp's own words for a cut PNG ("Warning treated as error due to failOn setting") become the user's.
    const cut = await readImage(truncated, 8).catch((e: unknown) => e as Error);
    expect((cut as Error).message).toMatch(new RegExp(`cannot read image '${truncated}': truncated or damaged image data`));
  });
});

describe('readMask', () => {
  it('thresholds at 127: above is foreground', async () => {
    const levels = [0, 100, 127, 128, 200, 255];
    const path = join(dir, 'levels.png');
    await writePng(path, Uint8Array.from(levels), levels.length, 1, 1);
    const wide = await readMask(path, levels.length);
    // A square read of a 6x1 image stretches rows; every row is the same.
    expect(Array.from(wide.subarray(0, levels.length))).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('resizes by nearest neighbour, so values stay 0/1 and the foreground keeps its place', async () => {
    const size = 16;
    const data = new Uint8Array(size * size);
    for (let y = 4; y < 12; y++) for (let x = 8; x < 16; x++) data[y * size + x] = 255;
    const path = join(dir, 'square.png');
    await writePng(path, data, size, size, 1);
    const half = await readMask(path, 8);
    const expected = new Uint8Array(64);
    for (let y = 2; y < 6; y++) for (let x = 4; x < 8; x++) expected[y * 8 + x] = 1;
    expect(Array.from(half)).toEqual(Array.from(expected));
    const double = await readMask(path, 32);
    expect(new Set(double)).toEqual(new Set([0, 1]));
    expect(double.reduce((a, b) => a + b, 0)).toBe(4 * 8 * 8);
  });

  it('counts a coloured annotation as foreground', async () => {
    const path = join(dir, 'red.png');
    await writePng(path, Uint8Array.from([255, 0, 0, 0, 0, 0]), 2, 1, 3);
    expect(Array.from((await readMask(path, 2)).subarray(0, 2))).toEqual([1, 0]);
  });
});

describe('normalizeImageNet and writePng', () => {
  it('subtracts the mean and divides by the std per channel', () => {
    const rgb = Float32Array.from([0.485, 0.456, 0.406, 1, 0, 0.5]);
    const out = normalizeImageNet(rgb);
    for (let c = 0; c < 3; c++) expect(out[c]).toBeCloseTo(0, 6);
    expect(out[3]).toBeCloseTo((1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], 5);
    expect(out[4]).toBeCloseTo(-IMAGENET_MEAN[1] / IMAGENET_STD[1], 5);
    expect(out[5]).toBeCloseTo((0.5 - IMAGENET_MEAN[2]) / IMAGENET_STD[2], 5);
    expect(() => normalizeImageNet(new Float32Array(4))).toThrow(/multiple of 3/);
  });

  it('writes PNGs that read back byte for byte, and reports their size', async () => {
    const data = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256);
    const path = join(dir, 'nested', 'roundtrip.png');
    await writePng(path, data, 5, 3, 3);
    expect(await imageSize(path)).toEqual({ width: 5, height: 3 });
    const back = await sharp(path).raw().toBuffer();
    expect(Array.from(back)).toEqual(Array.from(data));
    await expect(writePng(path, data, 4, 3, 3)).rejects.toThrow(/do not make a 4x3x3 image/);
  });
});

/**
 * A minimal BMP writer for the tests: 1/8-bit with a grey palette (index = red), 24-bit BGR, or 32-bit
 * BGRA with explicit bit masks; rows bottom-up unless topDown.
 */
function encodeBmp(width: number, height: number, rgb: Uint8Array, bits: 1 | 8 | 24 | 32, topDown = false): Uint8Array {
  const paletteSize = bits <= 8 ? (1 << bits) * 4 : 0;
  const masksSize = bits === 32 ? 12 : 0;
  const dataOffset = 14 + 40 + masksSize + paletteSize;
  const stride = Math.ceil((width * bits) / 32) * 4;
  const file = new Uint8Array(dataOffset + stride * height);
  const view = new DataView(file.buffer);
  view.setUint16(0, 0x424d);
  view.setUint32(2, file.length, true);
  view.setUint32(10, dataOffset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, topDown ? -height : height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bits, true);
  view.setUint32(30, bits === 32 ? 3 : 0, true);
  if (bits === 32) [0xff0000, 0xff00, 0xff].forEach((m, i) => view.setUint32(54 + i * 4, m, true));
  for (let i = 0; i < paletteSize / 4; i++) {
    const grey = bits === 1 ? i * 255 : i;
    file.set([grey, grey, grey, 0], 54 + masksSize + i * 4);
  }
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3);
      if (bits === 1) file[row + (x >> 3)]! |= (r! > 127 ? 1 : 0) << (7 - (x & 7));
      else if (bits === 8) file[row + x] = r!;
      else if (bits === 24) file.set([b!, g!, r!], row + x * 3);
      else file.set([b!, g!, r!, 255], row + x * 4);
    }
  }
  return file;
}

describe('BMP', () => {
  const width = 5; // odd, so rows carry padding
  const height = 3;
  const colour = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 53) % 256);
  const greyish = Uint8Array.from({ length: width * height * 3 }, (_, i) => ((Math.floor(i / 3) * 41) % 256));
  const blackWhite = greyish.map((v) => (v > 127 ? 255 : 0));

  it.each([
    ['24-bit', colour, 24, false],
    ['32-bit top-down with bit masks', colour, 32, true],
    ['8-bit palette', greyish, 8, false],
    ['1-bit palette', blackWhite, 1, true],
  ] as const)('decodes %s files', (_name, pixels, bits, topDown) => {
    const decoded = decodeBmp(encodeBmp(width, height, pixels, bits, topDown), MAX_PIXELS);
    expect({ width: decoded.width, height: decoded.height }).toEqual({ width, height });
    expect(Array.from(decoded.rgb)).toEqual(Array.from(pixels));
  });

  it('reads a BMP image and mask through readImage, readMask and imageSize', async () => {
    const square = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 29) % 256);
    const imagePath = join(dir, 'photo.BMP');
    await writeFile(imagePath, encodeBmp(4, 4, square, 24));
    expect(await imageSize(imagePath)).toEqual({ width: 4, height: 4 });
    const rgb = await readImage(imagePath, 4);
    expect(Array.from(rgb).map((v) => Math.round(v * 255))).toEqual(Array.from(square));
    const maskPath = join(dir, 'photo_mask.bmp');
    const mask = new Uint8Array(16 * 3);
    mask.fill(255, 0, 6);
    await writeFile(maskPath, encodeBmp(4, 4, mask, 8));
    expect(Array.from(await readMask(maskPath, 4))).toEqual([1, 1, ...new Array(14).fill(0)]);
  });

  it('names the file of a BMP it cannot decode', async () => {
    const path = join(dir, 'rle.bmp');
    const file = encodeBmp(4, 4, new Uint8Array(48), 8);
    new DataView(file.buffer).setUint32(30, 1, true); // RLE8
    await writeFile(path, file);
    await expect(readImage(path, 4)).rejects.toThrow(`cannot read image '${path}': unsupported BMP compression 1`);
  });

  it('refuses more than MAX_PIXELS from the header, before allocating (a 1-bit BMP of 12 GB of RGB)', async () => {
    const path = join(dir, 'huge.bmp');
    const file = encodeBmp(8, 8, new Uint8Array(8 * 8 * 3), 1);
    new DataView(file.buffer).setInt32(18, 65536, true);
    new DataView(file.buffer).setInt32(22, 65536, true);
    await writeFile(path, file);
    await expect(readImage(path, 4)).rejects.toThrow(`cannot read image '${path}': 65536x65536 pixels, more than the ${MAX_PIXELS} gpuseg decodes`);
  });
});

describe('the probe\'s 50 MB 1-bit BMP', () => {
  it('is refused from its header, without decoding its 1.2 GB of RGB', async () => {
    const path = join(dir, 'probe-1bit.bmp');
    const side = 20480; // 20480 x 20480 at 1 bit: 52 MB on disk, 419 M pixels
    const header = encodeBmp(8, 8, new Uint8Array(8 * 8 * 3), 1);
    const view = new DataView(header.buffer);
    const dataOffset = view.getUint32(10, true);
    const stride = side / 8;
    const file = new Uint8Array(dataOffset + stride * side);
    file.set(header.subarray(0, dataOffset));
    const edit = new DataView(file.buffer);
    edit.setUint32(2, file.length, true);
    edit.setInt32(18, side, true);
    edit.setInt32(22, side, true);
    edit.setUint32(34, stride * side, true);
    for (let i = dataOffset; i < file.length; i += 7) file[i] = 0x5a;
    await writeFile(path, file);
    expect(file.length).toBeGreaterThan(50e6);
    const before = process.memoryUsage().rss;
    await expect(readImage(path, 4)).rejects.toThrow(`cannot read image '${path}': ${side}x${side} pixels, more than the ${MAX_PIXELS} gpuseg decodes`);
    await expect(imageSize(path)).rejects.toThrow(/more than the/);
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 2 ** 20);
  });
});

describe('pixel limit', () => {
  it("refuses a PNG that declares more than MAX_PIXELS, from its header", async () => {
    const path = join(dir, 'huge.png');
    // A small PNG whose IHDR chunk (width, height, then its CRC) is rewritten to claim 9000x9000.
    const png = new Uint8Array(await sharp(Buffer.from(new Uint8Array(16)), { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer());
    const view = new DataView(png.buffer);
    view.setUint32(16, 9000);
    view.setUint32(20, 9000);
    view.setUint32(29, crc32(png.subarray(12, 29)));
    expect(9000 * 9000).toBeGreaterThan(MAX_PIXELS);
    await writeFile(path, png);
    expect((await sharp(path).metadata()).width).toBe(9000); // a valid header: only its size is refused
    // The limit is named (sharp's own words, 'Input image exceeds pixel limit', do not say what it is).
    const named = `cannot read image '${path}': 9000x9000 pixels, more than the ${MAX_PIXELS} gpuseg decodes (8192x8192)`;
    await expect(readImage(path, 4)).rejects.toThrow(named);
    await expect(imageSize(path)).rejects.toThrow(named);
  });
});
