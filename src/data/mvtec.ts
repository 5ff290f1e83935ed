// Reads one category folder in the MVTec AD layout:
//   train/good/*            normal images
//   test/good/*             normal images for evaluation
//   test/<type>/<name>.*    defect images, each with ground_truth/<type>/<name>_mask.*
// Paths come back sorted by code point, so every platform lists the same files in the same order.
// Images are listed through formats.ts: an image gpuseg cannot read is an error, never skipped.
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { byCodePoint, listImageFolder } from './formats.js';
import { imageSize } from './image.js';
import { InputError } from '../util/errors.js';

export { IMAGE_EXTENSIONS } from './formats.js';
/** The test/ sub-folder of defect-free images; every other sub-folder is a defect type. */
export const GOOD = 'good';
const MASK_SUFFIX = '_mask';

export interface DefectSample {
  type: string;
  image: string;
  mask: string;
}

export interface Category {
  name: string;
  dir: string;
  trainGood: string[];
  testGood: string[];
  defects: DefectSample[];
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Names of the entries of a folder that satisfy `keep`, sorted; [] when the folder does not exist. */
async function listNames(dir: string, keep: (name: string, isDir: boolean) => boolean): Promise<string[]> {
  if (!(await isDirectory(dir))) return [];
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => !e.name.startsWith('.') && keep(e.name, e.isDirectory()))
    .map((e) => e.name)
    .sort(byCodePoint);
}

/** Image files of a folder, as full paths, sorted. */
async function listImages(dir: string): Promise<string[]> {
  return (await listImageFolder(dir)).images;
}

/**
 * The masks of one defect type by image stem: `<stem>_mask` with any accepted extension, a .png
 * preferred when there are several.
 */
async function masksByStem(maskDir: string): Promise<Map<string, string>> {
  const masks = new Map<string, string>();
  for (const path of (await listImageFolder(maskDir, 'mask')).images) {
    const name = basename(path);
    const stem = basename(name, extname(name));
    if (!stem.endsWith(MASK_SUFFIX)) continue;
    const imageStem = stem.slice(0, -MASK_SUFFIX.length);
    const isPng = extname(name).toLowerCase() === '.png';
    if (!masks.has(imageStem) || isPng) masks.set(imageStem, path);
  }
  return masks;
}

/** Checks that a mask decodes and has its image's size; both errors name the mask. */
async function checkMaskSize(sample: DefectSample): Promise<void> {
  const [image, mask] = await Promise.all([imageSize(sample.image), imageSize(sample.mask, 'mask')]);
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new InputError(
      `mask '${sample.mask}' is ${mask.width}x${mask.height} but its image '${sample.image}' is ` +
        `${image.width}x${image.height}`,
    );
  }
}

/** Reads and checks one category folder. */
export async function readCategory(dir: string): Promise<Category> {
  if (!(await isDirectory(dir))) throw new InputError(`category folder '${dir}' not found`);
  const trainGoodDir = join(dir, 'train', GOOD);
  const trainGood = await listImages(trainGoodDir);
  if (trainGood.length === 0) throw new InputError(`no normal training images in '${trainGoodDir}'`);

  const testDir = join(dir, 'test');
  const testGood = await listImages(join(testDir, GOOD));
  const types = await listNames(testDir, (name, isDir) => isDir && name !== GOOD);
  const defects: DefectSample[] = [];
  for (const type of types) {
    const maskDir = join(dir, 'ground_truth', type);
    const masks = await masksByStem(maskDir);
    for (const image of await listImages(join(testDir, type))) {
      const stem = basename(image, extname(image));
      const mask = masks.get(stem);
      if (mask === undefined) {
        throw new InputError(`defect image '${image}' has no mask '${join(maskDir, stem + MASK_SUFFIX)}.png'`);
      }
      defects.push({ type, image, mask });
    }
  }
  if (defects.length === 0) throw new InputError(`category '${dir}' has no defect images in '${testDir}/<type>/'`);
  await Promise.all(defects.map(checkMaskSize));
  return { name: basename(dir), dir, trainGood, testGood, defects };
}

/** The category folders (those with a train/good folder) of a data-set root, as sorted paths. */
export async function listCategories(root: string): Promise<string[]> {
  if (!(await isDirectory(root))) throw new InputError(`data-set folder '${root}' not found`);
  const names = await listNames(root, (_name, isDir) => isDir);
  const categories: string[] = [];
  for (const name of names) {
    if (await isDirectory(join(root, name, 'train', GOOD))) categories.push(join(root, name));
  }
  if (categories.length === 0) throw new InputError(`no category folders (with train/good) in '${root}'`);
  return categories;
}
