// Prediction pictures: a probability map brought back to the image's own size, its mask, and the
// mask tinted over the image (every pixel outside the mask is the image's own).
import sharp from 'sharp';
import { decode } from './decode.js';

/** Red, half over the image, marks predicted defect pixels. */
const TINT = [255, 0, 0] as const;
const TINT_ALPHA = 0.5;

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The image at its own size, as shown (EXIF orientation applied, as readImage does), as 8-bit RGB. */
export async function readRgb(path: string): Promise<RgbImage> {
  const { data, info } = await decode(path, 'image', (image) => image.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let p = 0; p < info.width * info.height; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = data[p * info.channels + (info.channels >= 3 ? c : 0)]!;
  }
  return { data: rgb, width: info.width, height: info.height };
}

/** A size x size probability map resized (bilinear, no ringing) to width x height, as 8-bit grey. */
export async function resizeProbability(prob: Float32Array, size: number, width: number, height: number): Promise<Uint8Array> {
  return resizeProbabilityFrom(prob, size, size, width, height);
}

/** A fromWidth x fromHeight probability map resized as resizeProbability resizes a square one. */
export async function resizeProbabilityFrom(prob: Float32Array, fromWidth: number, fromHeight: number, width: number, height: number): Promise<Uint8Array> {
  const grey = Buffer.from(Uint8Array.from(prob, (p) => Math.round(Math.min(1, Math.max(0, p)) * 255)));
  const out = await sharp(grey, { raw: { width: fromWidth, height: fromHeight, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    // Without this, sharp hands back three (sRGB) channels for a one-channel input.
    .toColourspace('b-w')
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, width * height);
}

/** 255 where the 8-bit probability exceeds the threshold (0.5 -> 127), else 0. */
export function thresholdMask(grey: Uint8Array, threshold = 0.5): Uint8Array {
  const cut = threshold * 255;
  return Uint8Array.from(grey, (v) => (v > cut ? 255 : 0));
}

/** The image with the mask's pixels tinted; all other pixels unchanged. */
export function overlay(image: RgbImage, mask: Uint8Array): Uint8Array {
  const out = Uint8Array.from(image.data);
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - TINT_ALPHA) * image.data[p * 3 + c]! + TINT_ALPHA * TINT[c]!);
  }
  return out;
}
