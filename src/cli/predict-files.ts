// What `gpuseg predict` reads and writes, decided before the model loads: the input images (folders
// listed through data/formats.ts, as the category reader lists them, less predict's own earlier
// outputs), one output name per image that no other image shares, and a check that no output would
// replace an input or a file that predict did not write (a ground-truth mask beside the images).
// OUT/gpuseg-predict.json records the names predict wrote there, so that running it again may replace
// them and nothing else.
import { lstat, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ignoredWarning, listImageFolder } from '../data/index.js';
import { jsonBytes, writeFileAtomic } from '../util/files.js';
import { InputError } from './errors.js';

export const PREDICT_RECORD = 'gpuseg-predict.json';
const RECORD_FORMAT = 'gpuseg-predict/1';
/** The files predict writes per image: STEM_prob.png, STEM_mask.png, STEM_overlay.png. */
const OUTPUT_KINDS = ['prob', 'mask', 'overlay'] as const;
const EARLIER_OUTPUT = new RegExp(`_(${OUTPUT_KINDS.join('|')})\\.png$`, 'i');
/** The files predict writes once per run, beside the pictures: a row per image, a row per region. */
export const SUMMARY_FILES = { verdicts: 'verdicts.csv', regions: 'regions.csv' } as const;

export interface OutputFiles {
  probability: string;
  mask: string;
  overlay: string;
}

export interface PlannedImage {
  image: string;
  files: OutputFiles;
}

/**
 * Image files named directly, or found (not recursively) in named folders, sorted; each once. In a
 * folder, hidden files (macOS `._*` resource forks included) are left out silently; files that are not
 * images and predict's own outputs are left out too, and `onSkipped` hears how many of each per folder.
 * An image in a format gpuseg does not read (.webp) is an error naming it.
 */
export async function collectImages(inputs: string[], onSkipped: (message: string) => void = () => {}): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (path: string) => {
    if (!seen.has(resolve(path))) out.push(path);
    seen.add(resolve(path));
  };
  for (const input of inputs) {
    const info = await stat(input).catch(() => null);
    if (!info) throw new InputError(`${input}: no such image or folder`);
    if (!info.isDirectory()) {
      add(input);
      continue;
    }
    const listing = await listImageFolder(input);
    const ignored = ignoredWarning(input, listing.ignored);
    if (ignored) onSkipped(ignored);
    const earlier = listing.images.filter((p) => EARLIER_OUTPUT.test(p)).map((p) => basename(p));
    if (earlier.length) onSkipped(`${input}: left out ${earlier.length} file(s) named like predict's outputs (*_prob.png, *_mask.png, *_overlay.png, e.g. '${earlier[0]}')`);
    for (const p of listing.images) if (!EARLIER_OUTPUT.test(p)) add(p);
  }
  if (out.length === 0) throw new InputError(`no images in ${inputs.join(', ')}`);
  return out;
}

/** The names predict wrote in `out` before (its record), or none. */
async function recordedNames(out: string): Promise<Set<string>> {
  try {
    const record = JSON.parse(await readFile(join(out, PREDICT_RECORD), 'utf8')) as { format?: string; files?: unknown };
    if (record.format === RECORD_FORMAT && Array.isArray(record.files)) return new Set(record.files.filter((f): f is string => typeof f === 'string'));
  } catch {
    // no record: nothing in the folder is predict's to replace
  }
  return new Set();
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

/**
 * The output files of each image in `out`: STEM_*.png, or FOLDER_STEM_*.png for all when two images
 * share a stem (test/hole/000.png, test/scratch/000.png). Refuses two images that would still share
 * names, an output that is one of the inputs, and an existing file that predict did not write.
 */
export async function planOutputs(images: string[], out: string): Promise<PlannedImage[]> {
  const stems = images.map((p) => basename(p, extname(p)));
  const clash = new Set(stems).size < stems.length;
  const plan = images.map((image, i) => {
    const stem = join(out, clash ? `${basename(dirname(image))}_${stems[i]}` : stems[i]!);
    return { image, files: { probability: `${stem}_prob.png`, mask: `${stem}_mask.png`, overlay: `${stem}_overlay.png` } };
  });
  const byName = new Map<string, string>();
  for (const { image, files } of plan) {
    const other = byName.get(files.probability);
    if (other !== undefined) {
      const stem = files.probability.slice(0, -'_prob.png'.length);
      throw new InputError(`'${other}' and '${image}' would both be written as '${stem}_*.png'; predict them into separate --out folders`);
    }
    byName.set(files.probability, image);
  }
  const inputs = new Map(images.map((p) => [resolve(p), p]));
  const ours = await recordedNames(out);
  for (const { image, files } of plan) {
    for (const file of Object.values(files)) {
      const input = inputs.get(resolve(file));
      if (input !== undefined) throw new InputError(`the output for '${image}' would replace the input image '${input}'; choose another --out`);
      if (!ours.has(basename(file)) && (await exists(file))) {
        throw new InputError(`'${file}' exists and was not written by gpuseg predict (an input or a ground-truth mask?); choose another --out`);
      }
    }
  }
  // An input cannot be one of these: it would have failed as an image already.
  for (const name of Object.values(SUMMARY_FILES)) {
    const file = join(out, name);
    if (!ours.has(name) && (await exists(file))) throw new InputError(`'${file}' exists and was not written by gpuseg predict; choose another --out`);
  }
  return plan;
}

/**
 * Adds the plan's names and the summary files to OUT/gpuseg-predict.json (before any image is written:
 * a full disk or a read-only folder stops predict here, before the model loads).
 */
export async function recordOutputs(out: string, plan: PlannedImage[]): Promise<void> {
  const names = await recordedNames(out);
  for (const { files } of plan) for (const f of Object.values(files)) names.add(basename(f));
  for (const name of Object.values(SUMMARY_FILES)) names.add(name);
  await writeFileAtomic(join(out, PREDICT_RECORD), jsonBytes({ format: RECORD_FORMAT, files: [...names].sort() }));
}
