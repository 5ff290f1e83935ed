// Images and masks at their own size (or a chosen one), for tiled inference, its evaluation at native
// resolution (MVTec AD's protocol: metrics against the masks at the images' own size) and training on
// tiles. Decoded by decode.ts like every other reader (orientation, 16-bit, alpha dropped before any
// resize), so a tiled path sees the pixels the resize path sees, only not squeezed.
import sharp from 'sharp';
import { BYTE_MAX, type Samples, WORD_MAX, decodeAt } from './decode.js';
import { MASK_THRESHOLD } from './image.js';
import type { RgbImage } from './overlay.js';

const RGB = 3;

/** Samples spread to 8-bit RGB (a grey image replicated; 16-bit rounded to 8 bits as readImageBytes does). */
function toRgb({ data, channels, full }: Samples, count: number): Uint8Array {
  const out = new Uint8Array(count * RGB);
  const narrow = full === BYTE_MAX ? (v: number) => v : (v: number) => Math.round((v * BYTE_MAX) / WORD_MAX);
  for (let p = 0; p < count; p++) for (let c = 0; c < RGB; c++) out[p * RGB + c] = narrow(data[p * channels + (channels >= RGB ? c : 0)]!);
  return out;
}

/** An image as 8-bit RGB at its own size (as shown: EXIF orientation applied). */
export async function readRgbNative(path: string): Promise<RgbImage> {
  const { samples, width, height } = await decodeAt(path, 'image', null, true);
  return { data: toRgb(samples, width * height), width, height };
}

/**
 * A mask as width x height values of 0 or 1 (foreground where a colour channel exceeds MASK_THRESHOLD),
 * nearest-neighbour resized only when its size differs from the image's.
 */
export async function readMaskAt(path: string, width: number, height: number): Promise<Uint8Array> {
  const { samples } = await decodeAt(path, 'mask', { width, height, kernel: 'nearest' }, false);
  const { data, channels } = samples;
  const out = new Uint8Array(width * height);
  for (let p = 0; p < out.length; p++) {
    for (let c = 0; c < channels; c++) if (data[p * channels + c]! > MASK_THRESHOLD) out[p] = 1;
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
  return { data: toRgb({ data, channels: info.channels, full: BYTE_MAX }, width * height), width, height };
}

/** An image at its own size times `scale` (rounded, at least 1 pixel a side), as tiled inference runs it. */
export async function readRgbScaled(path: string, scale: number): Promise<RgbImage> {
  const image = await readRgbNative(path);
  return resizeRgb(image, scaledSide(image.width, scale), scaledSide(image.height, scale));
}

/** A side of `length` pixels at `scale`. */
export const scaledSide = (length: number, scale: number): number => Math.max(1, Math.round(length * scale));
