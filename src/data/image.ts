// Image IO through sharp: images in as float RGB, masks in as 0/1, PNGs out. Every failure becomes one
// line naming the file, because sharp's own messages are multi-line and do not say which file.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { InputError } from '../util/errors.js';
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
    const { width, height, rgb } = decodeBmp(await readFile(path));
    return await read(sharp(rgb, { raw: { width, height, channels: RGB_CHANNELS } }));
  } catch (err) {
    throw new InputError(`cannot read ${what} '${path}': ${await decodeProblem(path, err)}`);
  }
}

/** sharp's message for a file it cannot decode, said the way a user needs it. */
async function decodeProblem(path: string, err: unknown): Promise<string> {
  const message = firstLine(err);
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
  return { width: meta.width, height: meta.height };
}

/**
 * Reads an image as size x size x 3 RGB bytes, HWC: the decoded form a training run keeps in memory
 * (a quarter of the floats' size). The resize uses the linear (triangle) kernel: its weights are never
 * negative, so edges do not ring and values stay within the input's range (lanczos and cubic
 * overshoot). Grey images are replicated to three channels; alpha is dropped.
 */
export async function readImageBytes(path: string, size: number): Promise<Uint8Array> {
  checkSize(size);
  const { data, info } = await decode(path, 'image', (image) =>
    image
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel: 'linear' })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
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
  checkSize(size);
  const { data, info } = await decode(path, 'mask', (mask) =>
    mask
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel: 'nearest' })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
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

/** Writes 8-bit pixels (HWC, 1 or 3 channels) as a PNG, creating the folder if needed. */
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
  try {
    // A fixed compression level keeps the output bytes the same from run to run.
    await sharp(raw, { raw: { width, height, channels } }).png({ compressionLevel: 6 }).toFile(path);
  } catch (err) {
    throw new InputError(`cannot write PNG '${path}': ${firstLine(err)}`);
  }
}

// ---- BMP: the uncompressed variants (1/4/8-bit palette, 16/24/32-bit), which are what image tools write

const BMP_FILE_HEADER = 14;
const BMP_INFO_HEADER = 40;
const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** Decodes a BMP to 8-bit RGB, top row first; alpha is dropped. */
export function decodeBmp(file: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < BMP_FILE_HEADER + BMP_INFO_HEADER || view.getUint16(0) !== 0x424d) {
    throw new Error('not a BMP file (or a truncated one)');
  }
  const dataOffset = view.getUint32(10, true);
  const infoSize = view.getUint32(14, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bitsPerPixel = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (infoSize < BMP_INFO_HEADER) throw new Error(`unsupported BMP header of ${infoSize} bytes`);
  const bitfields = compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS;
  if (compression !== BI_RGB && !bitfields) {
    throw new Error(`unsupported BMP compression ${compression} (RLE or embedded)`);
  }
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0; // a negative height stores the top row first
  if (width <= 0 || height === 0) throw new Error(`BMP of size ${width}x${rawHeight}`);
  if (width * height > MAX_PIXELS) throw new Error(`${width}x${height} pixels, more than the ${MAX_PIXELS} gpuseg decodes`);
  const stride = Math.ceil((width * bitsPerPixel) / 32) * 4; // rows are padded to 4 bytes
  if (dataOffset + stride * height > file.length) throw new Error('truncated BMP pixel data');

  const readPixel = bmpPixelReader(view, bitsPerPixel, compression, infoSize);
  const rgb = new Uint8Array(width * height * RGB_CHANNELS);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) rgb.set(readPixel(row, x), (y * width + x) * RGB_CHANNELS);
  }
  return { width, height, rgb };
}

type PixelReader = (rowStart: number, x: number) => [number, number, number];

function bmpPixelReader(view: DataView, bitsPerPixel: number, compression: number, infoSize: number): PixelReader {
  switch (bitsPerPixel) {
    case 1:
    case 4:
    case 8: {
      const palette = BMP_FILE_HEADER + infoSize;
      const perByte = 8 / bitsPerPixel;
      const indexMask = (1 << bitsPerPixel) - 1;
      return (row, x) => {
        const byte = view.getUint8(row + Math.floor(x / perByte));
        // Pixels fill a byte from its high bits down.
        const index = (byte >> ((perByte - 1 - (x % perByte)) * bitsPerPixel)) & indexMask;
        const entry = palette + index * 4; // palette entries are B, G, R, reserved
        return [view.getUint8(entry + 2), view.getUint8(entry + 1), view.getUint8(entry)];
      };
    }
    case 24:
      return (row, x) => {
        const at = row + x * 3;
        return [view.getUint8(at + 2), view.getUint8(at + 1), view.getUint8(at)];
      };
    case 16:
    case 32: {
      const bytes = bitsPerPixel / 8;
      // Without BI_BITFIELDS the layouts are fixed: 5-5-5 for 16 bits, 8-8-8 (BGRx) for 32.
      const masks =
        compression === BI_RGB
          ? bitsPerPixel === 16
            ? [0x7c00, 0x03e0, 0x001f]
            : [0xff0000, 0x00ff00, 0x0000ff]
          : [0, 4, 8].map((o) => view.getUint32(BMP_FILE_HEADER + BMP_INFO_HEADER + o, true));
      const channels = masks.map(channelFromMask);
      return (row, x) => {
        const at = row + x * bytes;
        const value = bytes === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
        return [channels[0]!(value), channels[1]!(value), channels[2]!(value)];
      };
    }
    default:
      throw new Error(`unsupported BMP depth of ${bitsPerPixel} bits`);
  }
}

/** Extracts the bits of `mask` from a pixel value and scales them to 0..255. */
function channelFromMask(mask: number): (value: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (value) => Math.round((((value & mask) >>> 0) >>> shift) * (BYTE_MAX / max));
}
