// Images and masks at their own size (or a chosen one), for tiled inference and its evaluation at native
// resolution (MVTec AD's protocol: metrics against the masks at the images' own size).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { InputError } from '../util/errors.js';
import { decodeBmp } from './bmp.js';
import { MASK_THRESHOLD, MAX_PIXELS } from './image.js';
import type { RgbImage } from './overlay.js';

const RGB = 3;

/** sharp on a file; BMP (which sharp's libvips cannot read) decoded here first. */
async function open(path: string): Promise<Sharp> {
  if (extname(path).toLowerCase() !== '.bmp') return sharp(path, { limitInputPixels: MAX_PIXELS });
  const { width, height, rgb } = decodeBmp(await readFile(path), MAX_PIXELS);
  return sharp(rgb, { raw: { width, height, channels: RGB } });
}

/** Raw 8-bit samples of a file, resized to width x height with `kernel` unless given null (own size). */
async function pixels(path: string, what: string, size: { width: number; height: number } | null, kernel: 'linear' | 'nearest') {
  try {
    let image = (await open(path)).removeAlpha();
    if (size) image = image.resize(size.width, size.height, { fit: 'fill', kernel });
    return await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new InputError(`cannot read ${what} '${path}': ${String((err as Error).message ?? err).split('\n')[0]}`);
  }
}

/** Spreads c-channel samples to RGB (a grey image replicated). */
function toRgb(data: Uint8Array, channels: number, count: number): Uint8Array {
  const out = new Uint8Array(count * RGB);
  for (let p = 0; p < count; p++) for (let c = 0; c < RGB; c++) out[p * RGB + c] = data[p * channels + (channels >= RGB ? c : 0)]!;
  return out;
}

/** An image as 8-bit RGB at its own size. */
export async function readRgbNative(path: string): Promise<RgbImage> {
  const { data, info } = await pixels(path, 'image', null, 'linear');
  return { data: toRgb(data, info.channels, info.width * info.height), width: info.width, height: info.height };
}

/**
 * A mask as width x height values of 0 or 1 (foreground where a colour channel exceeds MASK_THRESHOLD),
 * nearest-neighbour resized only when its size differs from the image's.
 */
export async function readMaskAt(path: string, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await pixels(path, 'mask', { width, height }, 'nearest');
  const out = new Uint8Array(width * height);
  for (let p = 0; p < out.length; p++) {
    for (let c = 0; c < info.channels; c++) if (data[p * info.channels + c]! > MASK_THRESHOLD) out[p] = 1;
  }
  return out;
}

/** 8-bit RGB resized to width x height with the linear kernel (as readImage resizes: no ringing). */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  const raw = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const { data, info } = await sharp(raw, { raw: { width: image.width, height: image.height, channels: RGB } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: toRgb(data, info.channels, width * height), width, height };
}
