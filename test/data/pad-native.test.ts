// padBox says where sharp's 'pad' resize puts an image (checked against sharp itself), and native.ts
// reads through decode.ts as the other readers do: 16-bit narrowed as readImageBytes narrows it, EXIF
// orientation applied, colour under transparent pixels kept.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { padBox } from '../../src/data/decode.js';
import { readImageBytes } from '../../src/data/image.js';
import { readRgbNative } from '../../src/data/native.js';

const dir = mkdtempSync(join(tmpdir(), 'gpuseg-pad-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('padBox', () => {
  it('is the box of the image in sharp\'s contain-padded square', async () => {
    expect(padBox(64, 32, 32)).toEqual({ left: 0, top: 8, width: 32, height: 16 });
    expect(padBox(33, 100, 64)).toEqual({ left: 21, top: 0, width: 21, height: 64 });
    for (const [w, h, size] of [[64, 32, 32], [100, 33, 64], [33, 100, 64], [7, 300, 32], [129, 128, 96]] as const) {
      const white = Buffer.alloc(w * h * 3, 255);
      const data = await sharp(white, { raw: { width: w, height: h, channels: 3 } })
        .resize(size, size, { fit: 'contain', position: 'centre', background: { r: 0, g: 0, b: 0 }, kernel: 'linear' })
        .raw()
        .toBuffer();
      const box = padBox(w, h, size);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const within = x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height;
          if ((data[(y * size + x) * 3]! > 0) !== within) throw new Error(`${w}x${h} in ${size}: pixel (${x}, ${y}) ${within ? 'inside' : 'outside'} the box is wrong`);
        }
      }
    }
  });
});

describe('readRgbNative', () => {
  it('narrows 16-bit samples as readImageBytes does', async () => {
    const words = new Uint16Array(8 * 8 * 3).map((_, i) => (i * 977) % 65536);
    const path = join(dir, 'deep.png');
    await sharp(words, { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('rgb16').png().toFile(path);
    expect((await sharp(path).metadata()).depth).toBe('ushort');
    const native = await readRgbNative(path);
    expect(native.width).toBe(8);
    expect(Array.from(native.data)).toEqual(Array.from(await readImageBytes(path, 8)));
    // 977 * 3 = 2931 at pixel 1, red: round(2931 * 255 / 65535) = 11.
    expect(native.data[3]).toBe(11);
  });

  it('turns an image by its EXIF orientation and keeps colour under transparency', async () => {
    const path = join(dir, 'turned.jpg');
    await sharp(Buffer.alloc(8 * 4 * 3, 128), { raw: { width: 8, height: 4, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toFile(path);
    const turned = await readRgbNative(path);
    expect([turned.width, turned.height]).toEqual([4, 8]);
    const clear = join(dir, 'clear.png');
    await sharp(Buffer.from([200, 100, 50, 0, 10, 20, 30, 255]), { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(clear);
    expect(Array.from((await readRgbNative(clear)).data)).toEqual([200, 100, 50, 10, 20, 30]);
  });
});
