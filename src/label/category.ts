// What `gpuseg label` reads and writes in a category folder (MVTec AD layout): the defect images of
// test/<type>/ (test/good holds none), their masks in ground_truth/<type>/<stem>_mask.*, and the masks
// the page paints. A client names an image by (type, file name); both are looked up in a fresh listing of
// the folder, never joined into a path, so nothing outside the listing can be read or written.
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeBmp } from '../data/bmp.js';
import { MASK_THRESHOLD, MAX_PIXELS } from '../data/image.js';
import { byCodePoint, isImageName } from '../data/formats.js';
import { GOOD } from '../data/mvtec.js';
import { InputError } from '../util/errors.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';

const MASK_SUFFIX = '_mask';
const SAVED_MASK_EXTENSION = '.png';
const BYTE_MAX = 255;
const RGB_CHANNELS = 3;
/** Speed over size: these PNGs only travel to the browser on this machine. */
const TRANSFER_COMPRESSION = 1;
/** Masks on disk: a fixed level keeps the bytes the same for the same mask. */
const MASK_COMPRESSION = 6;

/** A failure the server answers with this HTTP status and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One defect image: its folder's defect type, its file name, and its mask's file name if it has one. */
export interface LabelImage {
  type: string;
  name: string;
  mask: string | null;
}

/** Regular files (links are left out: they may point anywhere) or folders of `dir`, sorted; [] if none. */
async function entries(dir: string, folders: boolean): Promise<string[]> {
  const all = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return all
    .filter((e) => !e.name.startsWith('.') && (folders ? e.isDirectory() : e.isFile()))
    .map((e) => e.name)
    .sort(byCodePoint);
}

/** Checks that `dir` is a folder with a test/ folder in it; the error names the path. */
export async function checkCategory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new InputError(`category folder '${dir}' not found`);
  if (!info.isDirectory()) throw new InputError(`'${dir}' is a file, not a category folder`);
  if (!(await stat(join(dir, 'test')).then((s) => s.isDirectory(), () => false))) {
    throw new InputError(`category folder '${dir}' has no test/ folder (defect images go in test/<type>/)`);
  }
}

/** Every defect image of the category, by type then name, with its mask (a .png preferred, as mvtec.ts does). */
export async function listDefectImages(dir: string): Promise<LabelImage[]> {
  const out: LabelImage[] = [];
  for (const type of await entries(join(dir, 'test'), true)) {
    if (type === GOOD) continue;
    const masks = new Map<string, string>();
    for (const name of await entries(join(dir, 'ground_truth', type), false)) {
      const stem = basename(name, extname(name));
      if (!isImageName(name) || !stem.endsWith(MASK_SUFFIX)) continue;
      const imageStem = stem.slice(0, -MASK_SUFFIX.length);
      if (!masks.has(imageStem) || extname(name).toLowerCase() === SAVED_MASK_EXTENSION) masks.set(imageStem, name);
    }
    for (const name of await entries(join(dir, 'test', type), false)) {
      if (isImageName(name)) out.push({ type, name, mask: masks.get(basename(name, extname(name))) ?? null });
    }
  }
  return out;
}

/** The listed image a request names, or a 404. */
export async function findImage(dir: string, type: string | null, name: string | null): Promise<LabelImage> {
  const found = (await listDefectImages(dir)).find((image) => image.type === type && image.name === name);
  if (!found) throw new HttpError(404, `no defect image '${type}/${name}' in the listing`);
  return found;
}

export const imagePath = (dir: string, image: LabelImage): string => join(dir, 'test', image.type, image.name);
export const maskPath = (dir: string, image: LabelImage, name = savedMaskName(image)): string => join(dir, 'ground_truth', image.type, name);
/** The mask file Save writes: <stem>_mask.png. */
export const savedMaskName = (image: LabelImage): string => `${basename(image.name, extname(image.name))}${MASK_SUFFIX}${SAVED_MASK_EXTENSION}`;

/**
 * A file's pixels as sharp sees them once turned upright by its EXIF orientation (the way a viewer
 * shows it). sharp's prebuilt libvips has no BMP loader, so BMPs are decoded by data/bmp.ts. A file
 * that cannot be decoded is a 422 naming it.
 */
async function open(path: string): Promise<Sharp> {
  try {
    if (extname(path).toLowerCase() === '.bmp') {
      const { width, height, rgb } = decodeBmp(await readFile(path), MAX_PIXELS);
      return sharp(rgb, { raw: { width, height, channels: RGB_CHANNELS } });
    }
    return sharp(path, { limitInputPixels: MAX_PIXELS }).autoOrient();
  } catch (err) {
    throw unreadable(path, err);
  }
}

/** A 422 naming the file, with the first line of the cause (sharp appends libvips' detail on more lines). */
function unreadable(path: string, err: unknown): HttpError {
  return new HttpError(422, `cannot read '${basename(path)}': ${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim()}`);
}

async function decodeFailure<T>(path: string, work: Promise<T>): Promise<T> {
  return work.catch((err: unknown) => {
    throw err instanceof HttpError ? err : unreadable(path, err);
  });
}

/** The image as a PNG a browser can show (TIFF and BMP it cannot), upright. */
export async function imagePng(path: string): Promise<Buffer> {
  return decodeFailure(path, open(path).then((image) => image.png({ compressionLevel: TRANSFER_COMPRESSION }).toBuffer()));
}

/** Width and height of the image upright: the size its mask must have. */
export async function uprightSize(path: string): Promise<{ width: number; height: number }> {
  // From the header (metadata's autoOrient is the size once turned); a BMP is decoded by open().
  const meta = await decodeFailure(path, open(path).then((image) => image.metadata()));
  const upright = meta.autoOrient ?? meta;
  if (!upright.width || !upright.height) throw new HttpError(422, `cannot read '${basename(path)}': no size in its header`);
  return { width: upright.width, height: upright.height };
}

/**
 * A mask file as a single-channel PNG of 0 and 255: foreground where any colour channel passes
 * MASK_THRESHOLD (alpha ignored), as data/image.ts reads masks for training.
 */
export async function maskPng(path: string): Promise<Buffer> {
  const { data, info } = await decodeFailure(path, open(path).then((m) => m.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })));
  const out = new Uint8Array(info.width * info.height);
  for (let p = 0; p < out.length; p++) {
    for (let c = 0; c < info.channels; c++) if (data[p * info.channels + c]! > MASK_THRESHOLD) out[p] = BYTE_MAX;
  }
  return sharp(out, { raw: { width: info.width, height: info.height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: TRANSFER_COMPRESSION }).toBuffer();
}

export interface SaveRequest {
  /** One byte per pixel, row by row: 0 is background, anything else defect. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** The user confirmed replacing an existing mask. */
  overwrite: boolean;
}

/**
 * Writes ground_truth/<type>/<stem>_mask.png: single channel, 0/255, at the image's upright size,
 * atomically, creating the folder. An existing mask is replaced only with `overwrite` (else 409); a
 * mask of the wrong size is a 400. Returns the path written, relative to the category, with '/'.
 */
export async function saveMask(dir: string, image: LabelImage, request: SaveRequest): Promise<string> {
  const size = await uprightSize(imagePath(dir, image));
  const { pixels, width, height } = request;
  if (width !== size.width || height !== size.height) {
    throw new HttpError(400, `mask is ${width}x${height} but '${image.type}/${image.name}' is ${size.width}x${size.height}`);
  }
  if (pixels.length !== width * height) throw new HttpError(400, `${pixels.length} bytes do not make a ${width}x${height} mask`);
  const target = maskPath(dir, image);
  // The listing may be a moment old: the file itself is checked too.
  const exists = image.mask !== null || (await stat(target).then(() => true, () => false));
  if (exists && !request.overwrite) throw new HttpError(409, `'${image.type}/${image.mask ?? savedMaskName(image)}' exists; saving over it needs overwrite`);
  const binary = new Uint8Array(pixels.length);
  for (let p = 0; p < pixels.length; p++) binary[p] = pixels[p] === 0 ? 0 : BYTE_MAX;
  // b-w: without it sharp writes a single band as sRGB, three channels.
  const png = await sharp(binary, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: MASK_COMPRESSION }).toBuffer();
  await makeFolder(join(dir, 'ground_truth', image.type), 'mask folder');
  await writeFileAtomic(target, png);
  return ['ground_truth', image.type, savedMaskName(image)].join('/');
}
