// `gpuseg predict`: a probability map, a mask and an overlay picture for each image.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { IMAGE_EXTENSIONS, imageSize, overlay, readRgb, resizeProbability, thresholdMask, writePng } from '../data/index.js';
import { inferenceTrouble, loadModel, predict } from '../train/model-io.js';
import { runThreshold } from '../train/threshold.js';
import type { DeviceKind } from '../train/device.js';
import { makeFolder } from '../util/files.js';
import { InputError } from './errors.js';
import { progress } from './progress.js';

export interface CommonOptions {
  model: string;
  device?: DeviceKind;
  adapter?: string;
  json?: boolean;
}

export interface PredictCliOptions extends CommonOptions {
  out: string;
  /** Instead of the run's threshold.json. */
  threshold?: number;
}

/** Image files named directly or found (not recursively) in named folders, sorted. */
async function collectImages(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => null);
    if (!info) throw new InputError(`${input}: no such image or folder`);
    if (info.isDirectory()) {
      const names = (await readdir(input)).filter((n) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase())).sort();
      out.push(...names.map((n) => join(input, n)));
    } else out.push(input);
  }
  if (out.length === 0) throw new InputError(`no images in ${inputs.join(', ')}`);
  return out;
}

export async function runPredict(inputs: string[], o: PredictCliOptions): Promise<void> {
  const images = await collectImages(inputs);
  // Every image's header and the output folder are checked before the model loads (seconds), so a bad
  // file stops the command at once rather than half-way through the images.
  for (const path of images) await imageSize(path);
  const threshold = await runThreshold(o.model, o.threshold);
  await makeFolder(o.out, '--out');
  const loaded = await loadModel(o.model, { device: o.device, adapter: o.adapter });
  const bar = progress('predict', images.length, { quiet: o.json });
  // Same file names from different folders (test/hole/000.png, test/scratch/000.png) get the folder's name.
  const stems = images.map((p) => basename(p, extname(p)));
  const clash = new Set(stems).size < stems.length;
  const written: { image: string; probability: string; mask: string; overlay: string; defectPixels: number }[] = [];
  try {
    for (const [i, path] of images.entries()) {
      const [prob] = await predict(loaded, [path]);
      const rgb = await readRgb(path);
      const grey = await resizeProbability(prob!, loaded.size, rgb.width, rgb.height);
      const mask = thresholdMask(grey, threshold.value);
      const stem = join(o.out, clash ? `${basename(dirname(path))}_${stems[i]}` : stems[i]!);
      const files = { probability: `${stem}_prob.png`, mask: `${stem}_mask.png`, overlay: `${stem}_overlay.png` };
      await writePng(files.probability, grey, rgb.width, rgb.height, 1);
      await writePng(files.mask, mask, rgb.width, rgb.height, 1);
      await writePng(files.overlay, overlay(rgb, mask), rgb.width, rgb.height, 3);
      written.push({ image: path, ...files, defectPixels: mask.reduce((n, v) => n + (v ? 1 : 0), 0) });
      bar.update(i + 1);
    }
  } catch (err) {
    throw inferenceTrouble(err, 'predicting', loaded, 1);
  } finally {
    bar.stop();
    loaded.close();
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ images: written, threshold })}\n`);
  else process.stdout.write(`wrote probability maps, masks (probability > ${Number(threshold.value.toPrecision(4))}, ${threshold.source}) and overlays for ${written.length} image(s) to ${resolve(o.out)}\n`);
}
