// Image IO through sharp: images in as float RGB, masks in as 0/1, PNGs out. Every failure becomes one
// line naming the file, because sharp's own messages are multi-line and do not say which file. BMP
// files are decoded in bmp.ts.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { decodeBmp } from './bmp.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './imagenet.js';

const RGB_CHANNELS = 3;
const BYTE_MAX = 255;
/** A resized mask pixel is foreground above half of full scale (MVTec masks are 0 or 255). */
export const MASK_THRESHOLD = 127;

/**
 * The most pixels an input image may declare, checked from its header before anything is decoded:
 * 8192x8192 (MVTec AD's largest is 1024x1024), about 200 MB as RGB bytes. A 50 MB 1-bit BMP would
 * otherwise become 1.2 GB before any other check.
 */
export const MAX_PIXELS = 8192 * 8192;
const MAX_SIDE = Math.sqrt(MAX_PIXELS);
/** How an image over the limit is refused, naming the limit (bmp.ts says the same). */
const overLimit = (width: number | undefined, height: number | undefined) =>
  `${width ?? '?'}x${height ?? '?'} pixels, more than the ${MAX_PIXELS} gpuseg decodes (${MAX_SIDE}x${MAX_SIDE})`;

// Defined apart from sharp, so that a browser page normalises with the same numbers.
export { IMAGENET_MEAN, IMAGENET_STD };

/** The first line of a library message: sharp appends libvips' detail on further lines. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.replace(/:\s*$/, '').trim();
}

/** Fails with a one-line message when the path is not a readable regular file. */
async function requireFile(path: string, what: string): Promise<void> {
  let isFile = false;
  try {
    isFile = (await stat(path)).isFile();
  } catch {
    throw new InputError(`cannot read ${what} '${path}': file not found`);
  }
  if (!isFile) throw new InputError(`cannot read ${what} '${path}': not a file`);
}

/**
 * Opens a file for sharp and runs `read` on it, rethrowing any failure as one line naming the file.
 * sharp's prebuilt libvips has no BMP loader, so BMP files are decoded here and handed over as pixels.
 */
async function decode<T>(path: string, what: string, read: (image: Sharp) => Promise<T>): Promise<T> {
  await requireFile(path, what);
  try {
    if (extname(path).toLowerCase() !== '.bmp') return await read(sharp(path, { limitInputPixels: MAX_PIXELS }));
    const { width, height, rgb } = decodeBmp(await readFile(path), MAX_PIXELS);
    return await read(sharp(rgb, { raw: { width, height, channels: RGB_CHANNELS } }));
  } catch (err) {
    throw new InputError(`cannot read ${what} '${path}': ${await decodeProblem(path, err)}`);
  }
}

/** sharp's message for a file it cannot decode, said the way a user needs it. */
async function decodeProblem(path: string, err: unknown): Promise<string> {
  const message = firstLine(err);
  if (/exceeds pixel limit/i.test(message)) {
    const meta = await sharp(path, { limitInputPixels: false }).metadata().catch(() => null);
    return overLimit(meta?.width, meta?.height);
  }
  if (/unsupported image format/i.test(message)) {
    const bytes = await stat(path).then((s) => s.size, () => -1);
    return bytes === 0 ? 'the file is empty (0 bytes)' : `not an image, or a format that cannot be read (${IMAGE_FORMATS})`;
  }
  if (/read error|premature end|truncated|failOn|corrupt|bad|invalid/i.test(message)) return `truncated or damaged image data (${message})`;
  return message;
}

const IMAGE_FORMATS = 'PNG, JPEG and BMP are';

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

/** Decodes a whole image (all of its pixels: a truncated file fails here, not at training step 1,500). */
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

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size <= 0) throw new InputError(`image size must be a positive integer, got ${size}`);
}

/**
 * Width and height of an image file, from its header (the pixels are not decoded). `what` names the
 * file's role in the error message ('image', 'mask').
 */
export async function imageSize(path: string, what = 'image'): Promise<{ width: number; height: number }> {
  const meta = await decode(path, what, (image) => image.metadata());
  if (!meta.width || !meta.height) throw new InputError(`cannot read ${what} '${path}': no dimensions in its header`);
  if (meta.width * meta.height > MAX_PIXELS) throw new InputError(`cannot read ${what} '${path}': ${overLimit(meta.width, meta.height)}`);
  return { width: meta.width, height: meta.height };
}

/** A file's pixels resized to size x size with `kernel`, alpha dropped: 8-bit samples, and their channel count. */
async function decodeResized(path: string, what: 'image' | 'mask', size: number, kernel: 'linear' | 'nearest') {
  checkSize(size);
  return decode(path, what, (image) =>
    image
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
}

/**
 * Reads an image as size x size x 3 RGB bytes, HWC: the decoded form a training run keeps in memory
 * (a quarter of the floats' size). The resize uses the linear (triangle) kernel: its weights are never
 * negative, so edges do not ring and values stay within the input's range (lanczos and cubic
 * overshoot). Grey images are replicated to three channels; alpha is dropped.
 */
export async function readImageBytes(path: string, size: number): Promise<Uint8Array> {
  const { data, info } = await decodeResized(path, 'image', size, 'linear');
  const pixels = size * size;
  const out = new Uint8Array(pixels * RGB_CHANNELS);
  // sharp normally hands back sRGB, but a grey source may still arrive with one channel.
  const channels = info.channels;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < RGB_CHANNELS; c++) out[p * RGB_CHANNELS + c] = data[p * channels + (channels >= RGB_CHANNELS ? c : 0)]!;
  }
  return out;
}

/** 8-bit RGB as floats in [0, 1]. (A plain loop: Float32Array.from with a map function is ~50x slower.) */
export function bytesToRgb(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / BYTE_MAX;
  return out;
}

/** Reads an image as size x size x 3 RGB floats in [0, 1], HWC (readImageBytes, scaled). */
export async function readImage(path: string, size: number): Promise<Float32Array> {
  return bytesToRgb(await readImageBytes(path, size));
}

/**
 * Reads a mask as size x size values of 0 or 1: nearest-neighbour resize (no new grey levels at the
 * border), then foreground where any colour channel exceeds MASK_THRESHOLD.
 */
export async function readMask(path: string, size: number): Promise<Uint8Array> {
  const { data, info } = await decodeResized(path, 'mask', size, 'nearest');
  const pixels = size * size;
  const channels = info.channels;
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
 * Writes 8-bit pixels (HWC, 1 or 3 channels) as a PNG, creating the folder if needed: encoded in
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
    png = await sharp(raw, { raw: { width, height, channels } }).png({ compressionLevel: 6 }).toBuffer();
  } catch (err) {
    throw new InputError(`cannot write PNG '${path}': ${firstLine(err)}`);
  }
  await writeFileAtomic(path, png);
}
