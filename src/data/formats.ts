// The one list of image files gpuseg reads, and how a folder's other entries are treated: every reader
// (the category reader, predict's folder listing, labelling) lists folders through here, so a format is
// read everywhere or nowhere. In a folder, an image-like file of a format gpuseg does not read is an
// error naming it (never skipped: a folder of .webp files would otherwise train on nothing); any
// other file (notes.txt, Thumbs.db) is left out and counted, so the caller can warn; hidden files
// (.DS_Store, macOS `._*` resource forks) are left out silently.
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { InputError } from '../util/errors.js';

/** Extensions (lower case) of the files gpuseg decodes: PNG, JPEG, BMP and TIFF, 8 or 16 bits a sample. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'] as const;
/** The formats, said the way error messages say them. */
export const IMAGE_FORMATS = 'PNG, JPEG, BMP and TIFF';

/** Extensions of images in formats gpuseg does not read (camera raw, web and HDR formats). */
const UNREAD_IMAGE_EXTENSIONS = [
  '.webp', '.gif', '.heic', '.heif', '.avif', '.jp2', '.j2k', '.jxl', '.pgm', '.ppm', '.pbm', '.pnm',
  '.tga', '.exr', '.hdr', '.dng', '.raw',
];

export type NameKind = 'image' | 'unread-image' | 'hidden' | 'other';

const extensionOf = (name: string) => extname(name).toLowerCase();

/** Whether a file name has one of IMAGE_EXTENSIONS (any case). */
export function isImageName(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extensionOf(name));
}

/** What a folder entry is to a reader of images (see the file comment). */
export function nameKind(name: string): NameKind {
  if (name.startsWith('.')) return 'hidden';
  if (isImageName(name)) return 'image';
  return UNREAD_IMAGE_EXTENSIONS.includes(extensionOf(name)) ? 'unread-image' : 'other';
}

/** The error for an image file in a format gpuseg does not read. */
export function unreadImage(path: string, what = 'image'): InputError {
  return new InputError(`cannot read ${what} '${path}': ${extensionOf(path)} images are not read; gpuseg reads ${IMAGE_FORMATS} (${IMAGE_EXTENSIONS.join(' ')})`);
}

/** Plain code-point order: localeCompare would depend on the platform's locale. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ImageFolder {
  /** The image files, as full paths, sorted by code point. */
  images: string[];
  /** Names of the entries left out (not hidden, not images: files and sub-folders), sorted. */
  ignored: string[];
}

/**
 * The image files of a folder (not recursive), and what else it holds; none when the folder does not
 * exist. Throws, naming the file, for an image in a format gpuseg does not read.
 */
export async function listImageFolder(dir: string, what = 'image'): Promise<ImageFolder> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const images: string[] = [];
  const ignored: string[] = [];
  for (const e of entries) {
    const kind = nameKind(e.name);
    if (kind === 'hidden') continue;
    if (e.isDirectory() || kind === 'other') ignored.push(e.name);
    else if (kind === 'unread-image') throw unreadImage(join(dir, e.name), what);
    else images.push(e.name);
  }
  return { images: images.sort(byCodePoint).map((n) => join(dir, n)), ignored: ignored.sort(byCodePoint) };
}

/** One line saying what a folder's listing left out, or null when it left out nothing. */
export function ignoredWarning(dir: string, ignored: readonly string[]): string | null {
  if (ignored.length === 0) return null;
  const what = ignored.length === 1 ? 'entry that is not an image' : 'entries that are not images';
  return `'${dir}': left out ${ignored.length} ${what} (e.g. '${ignored[0]}'); gpuseg reads ${IMAGE_EXTENSIONS.join(' ')}`;
}
