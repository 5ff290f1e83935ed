// Every file of a category decoded before a run starts: a truncated image or a wrong mask stops the
// command at once with a line naming the file, not hours later at the step that first reads it.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_RESIZE, type ResizePolicy } from './decode.js';
import { ignoredWarning, listImageFolder } from './formats.js';
import { MASK_THRESHOLD, checkImage, checkMask } from './image.js';
import { type Category, GOOD } from './mvtec.js';
import { InputError } from '../util/errors.js';

/** Decodes in flight at once: sharp decodes on its own threads, so a few overlap well. */
const IN_FLIGHT = 8;

export interface CategoryCheck {
  /** Problems a run can go on with, each one line (say them once, as warnings). */
  warnings: string[];
}

export interface VerifyOptions {
  /** How the run makes images square: under 'stretch' (the default), a non-square image is warned of. */
  resize?: ResizePolicy;
  /** The run cuts images into tiles rather than resizing them whole: nothing is stretched. */
  tiled?: boolean;
}

/** An image's size, and where it comes in the category's order (the first non-square one is named). */
interface Seen {
  order: number;
  path: string;
  width: number;
  height: number;
}

/**
 * Decodes every image and mask of `category` (from readCategory, which has compared their sizes) in
 * full. Throws an InputError for a file that does not decode, a mask drawn only in alpha, and a
 * category whose masks are all empty; warns for grey-level masks (pixels above MASK_THRESHOLD are
 * defect), for single masks with no defect pixel, for files left out of its folders, and (once) for
 * images that are not square when the run stretches them.
 */
export async function verifyCategory(
  category: Category,
  onProgress: (done: number, total: number) => void = () => {},
  options: VerifyOptions = {},
): Promise<CategoryCheck> {
  const images = [...category.trainGood, ...category.testGood];
  const total = images.length + category.defects.length;
  let done = 0;
  const tick = () => onProgress(++done, total);
  const nonSquare: Seen[] = [];
  const see = (order: number, path: string, size: { width: number; height: number }) => {
    if (size.width !== size.height) nonSquare.push({ order, path, ...size });
  };
  await inBatches(images, async (path, i) => {
    see(i, path, await checkImage(path));
    tick();
  });
  const greyMasks: string[] = [];
  const emptyMasks: { path: string; maxValue: number }[] = [];
  await inBatches(category.defects, async (sample, i) => {
    // Sizes were compared from the headers by readCategory; here both decode in full.
    const [image, mask] = await Promise.all([checkImage(sample.image), checkMask(sample.mask)]);
    see(images.length + i, sample.image, image);
    if (mask.alphaOnly) {
      throw new InputError(`mask '${sample.mask}' draws its defect in the alpha channel only; defect pixels are those whose colour is above ${MASK_THRESHOLD} (white on black)`);
    }
    if (mask.greyPixels > 0) greyMasks.push(sample.mask);
    if (mask.defectPixels === 0) emptyMasks.push({ path: sample.mask, maxValue: mask.maxValue });
    tick();
  });
  emptyMasks.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const faint = emptyMasks.find((m) => m.maxValue > 0);
  const weakest = faint ? `, e.g. '${faint.path}' whose largest value is ${faint.maxValue}` : '';
  if (emptyMasks.length === category.defects.length) {
    throw new InputError(`every mask of '${category.dir}' is empty (no pixel above ${MASK_THRESHOLD}${weakest}): nothing to learn or evaluate`);
  }
  const warnings = await layoutWarnings(category);
  const stretches = (options.resize ?? DEFAULT_RESIZE) === 'stretch' && !options.tiled;
  const stretched = stretches ? stretchWarning(nonSquare, total) : null;
  if (stretched) warnings.push(stretched);
  if (greyMasks.length) {
    greyMasks.sort();
    warnings.push(`${greyMasks.length} mask(s) are not binary (e.g. '${greyMasks[0]}'): pixels above ${MASK_THRESHOLD} count as defect`);
  }
  if (emptyMasks.length) {
    const example = faint ? weakest.slice(2) : `e.g. '${emptyMasks[0]!.path}'`;
    warnings.push(`${emptyMasks.length} defect image(s) have an empty mask (no pixel above ${MASK_THRESHOLD}, ${example}): they count as defect-free`);
  }
  return { warnings };
}

async function inBatches<T>(items: readonly T[], work: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += IN_FLIGHT) await Promise.all(items.slice(start, start + IN_FLIGHT).map((item, k) => work(item, start + k)));
}

/** One line for the images a square resize stretches, naming the first (in the category's order). */
function stretchWarning(nonSquare: Seen[], total: number): string | null {
  if (nonSquare.length === 0) return null;
  const first = nonSquare.reduce((a, b) => (b.order < a.order ? b : a));
  const aspect = Number((first.width / first.height).toPrecision(3));
  return (
    `${nonSquare.length} of ${total} image(s) are not square, e.g. '${first.path}' (${first.width}x${first.height}, aspect ${aspect}): ` +
    `each is stretched to --size x --size, which changes the shapes of defects; tiles (--tile) or --resize pad avoid it`
  );
}

/** Sub-folders of `dir` (none when it does not exist), without hidden ones, sorted. */
async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/**
 * What of the layout the run leaves out, each a warning naming the folder: entries of an image folder
 * that are not images (once per folder, with their count), a defect type's test folder without images,
 * and a ground-truth folder without its test folder.
 */
async function layoutWarnings(category: Category): Promise<string[]> {
  const testDir = join(category.dir, 'test');
  const truthDir = join(category.dir, 'ground_truth');
  const used = new Set(category.defects.map((d) => d.type));
  const types = (await subfolders(testDir)).filter((t) => t !== GOOD);
  const truths = await subfolders(truthDir);
  const folders = [join(category.dir, 'train', GOOD), join(testDir, GOOD), ...types.map((t) => join(testDir, t)), ...truths.map((t) => join(truthDir, t))];
  const warnings: string[] = [];
  for (const dir of folders) {
    const ignored = ignoredWarning(dir, (await listImageFolder(dir)).ignored);
    if (ignored) warnings.push(ignored);
  }
  for (const t of types) if (!used.has(t)) warnings.push(`defect type folder '${join(testDir, t)}' holds no images: the type is left out`);
  for (const t of truths) {
    if (!types.includes(t)) warnings.push(`'${join(truthDir, t)}' has no test folder '${join(testDir, t)}': its masks are not used`);
  }
  return warnings;
}
