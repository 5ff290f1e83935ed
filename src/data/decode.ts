// Decoding for image.ts: a file opened through sharp (BMP through bmp.ts), turned the way it is shown
// (EXIF orientation applied), alpha dropped, and resized to size x size at its own depth: 16-bit
// samples stay 16-bit through the resize, so a line camera's dark image keeps its grey levels until
// the caller scales them (65535 is full scale). Every failure becomes one line naming the file,
// because sharp's own messages are multi-line and do not say which file.
import { open, readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { InputError } from '../util/errors.js';
import { decodeBmp } from './bmp.js';
import { IMAGE_FORMATS } from './formats.js';

const RGB_CHANNELS = 3;
export const BYTE_MAX = 255;
export const WORD_MAX = 65535;

/**
 * How an image that is not square becomes size x size. 'stretch' scales width and height apart (the
 * shapes of defects change with the aspect ratio). 'pad' scales it to fit, centred (an odd pixel of
 * padding goes below or right), and fills the rest with black: 0 in [0, 1] on every channel (so
 * -mean/std after ImageNet normalisation, not 0: black bars are what a viewer of the input sees, and
 * any tool reproduces them), and 0 (no defect) in masks. Image and mask are placed alike, as they
 * have the same size.
 */
export type ResizePolicy = 'stretch' | 'pad';
export const RESIZE_POLICIES: readonly ResizePolicy[] = ['stretch', 'pad'];
export const DEFAULT_RESIZE: ResizePolicy = 'stretch';
const BLACK = { r: 0, g: 0, b: 0 };

/**
 * Where a width x height image lies in its size x size 'pad' square: scaled by the smaller of the two
 * ratios, rounded, centred with the odd pixel below or right, as sharp's `contain` places it (checked
 * against sharp in test/data/pad.test.ts).
 */
export function padBox(width: number, height: number, size: number): { left: number; top: number; width: number; height: number } {
  const s = Math.min(size / width, size / height);
  const w = Math.max(1, Math.round(width * s));
  const h = Math.max(1, Math.round(height * s));
  return { left: Math.floor((size - w) / 2), top: Math.floor((size - h) / 2), width: w, height: h };
}

/**
 * The most pixels an input image may declare, checked from its header before anything is decoded:
 * 8192x8192 (MVTec AD's largest is 1024x1024), about 200 MB as RGB bytes. A 50 MB 1-bit BMP would
 * otherwise become 1.2 GB before any other check.
 */
export const MAX_PIXELS = 8192 * 8192;
const MAX_SIDE = Math.sqrt(MAX_PIXELS);
/** How an image over the limit is refused, naming the limit (bmp.ts says the same). */
export const overLimit = (width: number | undefined, height: number | undefined) =>
  `${width ?? '?'}x${height ?? '?'} pixels, more than the ${MAX_PIXELS} gpuseg decodes (${MAX_SIDE}x${MAX_SIDE})`;

/** The first line of a library message: sharp appends libvips' detail on further lines. */
export function firstLine(err: unknown): string {
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

/** Sample formats read: 8-bit (and fewer bits, which libvips widens to 8) and 16-bit unsigned. */
const READ_DEPTHS = ['uchar', 'ushort'];

/**
 * Opens a file for sharp, oriented as shown, and runs `read` on it with its header, rethrowing any
 * failure as one line naming the file. sharp's prebuilt libvips has no BMP loader, so BMP files are
 * decoded here and handed over as pixels.
 */
export async function decode<T>(path: string, what: string, read: (image: Sharp, meta: Metadata) => Promise<T>): Promise<T> {
  await requireFile(path, what);
  try {
    let image: Sharp;
    if (extname(path).toLowerCase() !== '.bmp') image = sharp(path, { limitInputPixels: MAX_PIXELS, autoOrient: true });
    else {
      const { width, height, rgb } = decodeBmp(await readFile(path), MAX_PIXELS);
      image = sharp(rgb, { raw: { width, height, channels: RGB_CHANNELS } });
    }
    const meta = await image.metadata();
    if (!READ_DEPTHS.includes(meta.depth ?? 'uchar')) throw new Error(`its samples are '${meta.depth}'; gpuseg reads 8- and 16-bit integer samples`);
    return await read(image, meta);
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
    if (bytes === 0) return 'the file is empty (0 bytes)';
    const format = await signature(path).catch(() => null);
    // A TIFF cut short loses its directory (libvips writes it last) and reads as no format at all.
    if (format) return `truncated or damaged image data (it starts as a ${format} but cannot be decoded)`;
    return `not an image, or a format that cannot be read (${IMAGE_FORMATS} are)`;
  }
  if (/read error|premature end|truncated|failOn|corrupt|bad|invalid/i.test(message)) return `truncated or damaged image data (${message})`;
  return message;
}

/** The first bytes of each format read, as its files start. */
const SIGNATURES: readonly { format: string; bytes: readonly number[] }[] = [
  { format: 'PNG', bytes: [0x89, 0x50, 0x4e, 0x47] },
  { format: 'JPEG', bytes: [0xff, 0xd8, 0xff] },
  { format: 'TIFF', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { format: 'TIFF', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { format: 'BMP', bytes: [0x42, 0x4d] },
];

/** The format a file's first bytes announce, or null. */
async function signature(path: string): Promise<string | null> {
  const head = Buffer.alloc(4);
  const file = await open(path, 'r').catch(() => null);
  if (!file) return null;
  try {
    await file.read(head, 0, head.length, 0);
  } finally {
    await file.close();
  }
  return SIGNATURES.find((s) => s.bytes.every((b, i) => head[i] === b))?.format ?? null;
}

/** A header's width and height as the image is shown (EXIF orientations 5 to 8 swap them). */
export function shownSize(meta: Metadata): { width: number | undefined; height: number | undefined } {
  return meta.autoOrient ?? { width: meta.width, height: meta.height };
}

/** Resized samples, HWC: 8-bit (full = 255) or 16-bit (full = 65535), with their channel count. */
export interface Samples {
  data: Uint8Array | Uint16Array;
  channels: number;
  full: number;
}

/** A raw output buffer as 16-bit samples (native byte order, as sharp writes them). */
function words(data: Buffer): Uint16Array {
  const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}

/**
 * A file's pixels as size x size colour samples: oriented, alpha dropped, resized with `kernel` by
 * `resize`. With `keepDepth`, a 16-bit file gives 16-bit samples (the resize runs in 16 bits);
 * otherwise, and for 8-bit files, 8-bit ones (sharp scales 16-bit down by 257).
 */
export async function decodeResized(
  path: string,
  what: 'image' | 'mask',
  size: number,
  kernel: 'linear' | 'nearest',
  resize: ResizePolicy,
  keepDepth: boolean,
): Promise<Samples> {
  if (!Number.isInteger(size) || size <= 0) throw new InputError(`image size must be a positive integer, got ${size}`);
  if (!RESIZE_POLICIES.includes(resize)) throw new InputError(`resize policy must be one of ${RESIZE_POLICIES.join(', ')}, got '${resize}'`);
  const { samples } = await decodeTo(path, what, { width: size, height: size, kernel, resize }, keepDepth);
  return samples;
}

/**
 * A file's pixels at their own size (`to` null) or stretched to to.width x to.height, decoded as
 * decodeResized does (oriented, alpha dropped, 16-bit kept with `keepDepth`): tiled inference and
 * training on tiles read images exactly as the resize path does, only not squeezed.
 */
export async function decodeAt(
  path: string,
  what: 'image' | 'mask',
  to: { width: number; height: number; kernel: 'linear' | 'nearest' } | null,
  keepDepth: boolean,
): Promise<{ samples: Samples; width: number; height: number }> {
  return decodeTo(path, what, to && { ...to, resize: 'stretch' }, keepDepth);
}

type Target = { width: number; height: number; kernel: 'linear' | 'nearest'; resize: ResizePolicy };

async function decodeTo(path: string, what: 'image' | 'mask', to: Target | null, keepDepth: boolean) {
  return decode(path, what, async (image, meta) => {
    const wide = keepDepth && meta.depth === 'ushort';
    const space = wide ? 'rgb16' : 'srgb';
    const depth = wide ? 'ushort' : 'uchar';
    let source = image;
    if (meta.hasAlpha) {
      // libvips resizes with colour premultiplied by alpha, which would blacken what lies under
      // transparent pixels: the colour is taken out first, at full size, and resized from there.
      const flat = await image.removeAlpha().toColourspace(space).raw({ depth }).toBuffer({ resolveWithObject: true });
      const raw = { width: flat.info.width, height: flat.info.height, channels: flat.info.channels as 3 };
      source = sharp(wide ? words(flat.data) : flat.data, { raw });
    }
    // Without a 16-bit pipeline, libvips would take the resize down to 8 bits first.
    if (wide) source = source.pipelineColourspace('rgb16');
    if (to) {
      const fit = to.resize === 'pad' ? ({ fit: 'contain', position: 'centre', background: BLACK } as const) : ({ fit: 'fill' } as const);
      source = source.resize(to.width, to.height, { ...fit, kernel: to.kernel });
    }
    const { data, info } = await source.toColourspace(space).raw({ depth }).toBuffer({ resolveWithObject: true });
    const samples = { data: wide ? words(data) : new Uint8Array(data.buffer, data.byteOffset, data.length), channels: info.channels, full: wide ? WORD_MAX : BYTE_MAX };
    return { samples, width: info.width, height: info.height };
  });
}
