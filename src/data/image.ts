// Image IO through sharp: images in as float RGB, masks in as 0/1, PNGs out. Decoding (orientation,
// depth, alpha, the resize policy, one-line errors naming the file) is in decode.ts; BMP files are
// decoded in bmp.ts.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { BYTE_MAX, DEFAULT_RESIZE, MAX_PIXELS, type ResizePolicy, type Samples, WORD_MAX, decode, decodeResized, firstLine, overLimit, shownSize } from './decode.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './imagenet.js';

const RGB_CHANNELS = 3;
/** A resized mask pixel is foreground above half of full scale (MVTec masks are 0 or 255). */
export const MASK_THRESHOLD = 127;

export { DEFAULT_RESIZE, MAX_PIXELS, RESIZE_POLICIES, type ResizePolicy } from './decode.js';
// Defined apart from sharp, so that a browser page normalises with the same numbers.
export { IMAGENET_MEAN, IMAGENET_STD };

/** What a full decode of a mask shows: its size and whether it is the binary mask it should be. */
export interface MaskCheck {
  width: number;
  height: number;
  /** Pixels read as defect (a colour channel above MASK_THRESHOLD). */
  defectPixels: number;
  /** Pixels with a colour value other than 0 and 255 (a grey level, an antialiased edge). */
  greyPixels: number;
  /** The largest colour value. */
  maxValue: number;
  /**
   * Whether the shape is drawn in the alpha channel alone: no defect pixel by colour, but some opaque
   * pixels and some transparent ones (an opaque black mask has no transparent pixel).
   */
  alphaOnly: boolean;
}

/**
 * Decodes a whole image (all of its pixels: a truncated file fails here, not at training step 1,500);
 * its size as shown (oriented).
 */
export async function checkImage(path: string, what = 'image'): Promise<{ width: number; height: number }> {
  const info = await decode(path, what, (image) => image.raw().toBuffer({ resolveWithObject: true }).then((r) => r.info));
  return { width: info.width, height: info.height };
}

/** Decodes a whole mask and measures how binary it is (see MaskCheck). */
export async function checkMask(path: string): Promise<MaskCheck> {
  const { data, info } = await decode(path, 'mask', (mask) => mask.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  const channels = info.channels;
  const hasAlpha = channels === 2 || channels === 4;
  const colours = hasAlpha ? channels - 1 : channels;
  const result: MaskCheck = { width: info.width, height: info.height, defectPixels: 0, greyPixels: 0, maxValue: 0, alphaOnly: false };
  let opaque = 0;
  let transparent = 0;
  for (let p = 0; p < info.width * info.height; p++) {
    let max = 0;
    let grey = false;
    for (let c = 0; c < colours; c++) {
      const v = data[p * channels + c]!;
      if (v > max) max = v;
      if (v !== 0 && v !== BYTE_MAX) grey = true;
    }
    if (max > result.maxValue) result.maxValue = max;
    if (grey) result.greyPixels++;
    if (max > MASK_THRESHOLD) result.defectPixels++;
    if (hasAlpha) {
      if (data[p * channels + colours]! > MASK_THRESHOLD) opaque++;
      else transparent++;
    }
  }
  result.alphaOnly = result.defectPixels === 0 && opaque > 0 && transparent > 0;
  return result;
}

/**
 * Width and height of an image file as it is shown (EXIF orientation applied), from its header (the
 * pixels are not decoded). `what` names the file's role in the error message ('image', 'mask').
 */
export async function imageSize(path: string, what = 'image'): Promise<{ width: number; height: number }> {
  const { width, height } = await decode(path, what, async (_image, meta) => shownSize(meta));
  if (!width || !height) throw new InputError(`cannot read ${what} '${path}': no dimensions in its header`);
  if (width * height > MAX_PIXELS) throw new InputError(`cannot read ${what} '${path}': ${overLimit(width, height)}`);
  return { width, height };
}

/** Samples as size x size RGB, HWC: a grey source (one channel) is replicated to three. */
function toRgb<T extends Uint8Array | Float32Array>(samples: Samples, size: number, out: T, value: (v: number) => number): T {
  const { data, channels } = samples;
  // sharp hands back sRGB, but a grey source may still arrive with one channel.
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < RGB_CHANNELS; c++) out[p * RGB_CHANNELS + c] = value(data[p * channels + (channels >= RGB_CHANNELS ? c : 0)]!);
  }
  return out;
}

/**
 * Reads an image as size x size x 3 RGB bytes, HWC: the decoded form a training run keeps in memory
 * (a quarter of the floats' size; a 16-bit image is rounded to 8 bits after its resize). The resize
 * uses the linear (triangle) kernel: its weights are never negative, so edges do not ring and values
 * stay within the input's range (lanczos and cubic overshoot). Grey images are replicated to three
 * channels; alpha is dropped; `resize` says what becomes of an image that is not square.
 */
export async function readImageBytes(path: string, size: number, resize: ResizePolicy = DEFAULT_RESIZE): Promise<Uint8Array> {
  const samples = await decodeResized(path, 'image', size, 'linear', resize, true);
  const narrow = samples.full === BYTE_MAX ? (v: number) => v : (v: number) => Math.round((v * BYTE_MAX) / WORD_MAX);
  return toRgb(samples, size, new Uint8Array(size * size * RGB_CHANNELS), narrow);
}

/** 8-bit RGB as floats in [0, 1]. (A plain loop: Float32Array.from with a map function is ~50x slower.) */
export function bytesToRgb(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / BYTE_MAX;
  return out;
}

/**
 * Reads an image as size x size x 3 RGB floats in [0, 1], HWC, resized as readImageBytes does; 16-bit
 * samples keep their precision (40000 reads as 40000 / 65535).
 */
export async function readImage(path: string, size: number, resize: ResizePolicy = DEFAULT_RESIZE): Promise<Float32Array> {
  const samples = await decodeResized(path, 'image', size, 'linear', resize, true);
  const full = samples.full;
  return toRgb(samples, size, new Float32Array(size * size * RGB_CHANNELS), (v) => v / full);
}

/**
 * Reads a mask as size x size values of 0 or 1: nearest-neighbour resize (no new grey levels at the
 * border), then foreground where any colour channel exceeds MASK_THRESHOLD (of 255; a 16-bit mask is
 * scaled to 8 bits first). Pass the `resize` its image was read with.
 */
export async function readMask(path: string, size: number, resize: ResizePolicy = DEFAULT_RESIZE): Promise<Uint8Array> {
  const { data, channels } = await decodeResized(path, 'mask', size, 'nearest', resize, false);
  const pixels = size * size;
  const out = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let foreground = 0;
    for (let c = 0; c < channels; c++) if (data[p * channels + c]! > MASK_THRESHOLD) foreground = 1;
    out[p] = foreground;
  }
  return out;
}

/** Subtracts the ImageNet mean and divides by its standard deviation, per channel of an HWC RGB image. */
export function normalizeImageNet(rgb: Float32Array): Float32Array {
  if (rgb.length % RGB_CHANNELS !== 0) {
    throw new Error(`normalizeImageNet expects HWC RGB data, got ${rgb.length} values (not a multiple of 3)`);
  }
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const c = i % RGB_CHANNELS;
    out[i] = (rgb[i]! - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
  }
  return out;
}

/**
 * Writes 8-bit pixels (HWC, 1 or 3 channels) as a PNG of as many channels, creating the folder if needed: encoded in
 * memory, then written under a temporary name and renamed (a kill or a full disk never leaves half a PNG).
 */
export async function writePng(
  path: string,
  data: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<void> {
  if (data.length !== width * height * channels) {
    throw new Error(
      `writePng '${path}': ${data.length} bytes do not make a ${width}x${height}x${channels} image`,
    );
  }
  await mkdir(dirname(path), { recursive: true });
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let png: Buffer;
  try {
    // A fixed compression level keeps the output bytes the same from run to run.
    const image = sharp(raw, { raw: { width, height, channels } });
    // sharp would write one channel as three (sRGB): masks and probability maps stay grey.
    if (channels === 1) image.toColourspace('b-w');
    png = await image.png({ compressionLevel: 6 }).toBuffer();
  } catch (err) {
    throw new InputError(`cannot write PNG '${path}': ${firstLine(err)}`);
  }
  await writeFileAtomic(path, png);
}
