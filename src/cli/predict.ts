// `gpuseg predict` and `gpuseg eval`: masks and pictures for images, metrics on a run's evaluation set.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { IMAGE_EXTENSIONS, overlay, readRgb, readSplit, resizeProbability, thresholdMask, writePng } from '../data/index.js';
import { evaluate, type LabelledImage } from '../train/inference.js';
import { loadModel, predict } from '../train/model-io.js';
import type { DeviceKind } from '../train/device.js';
import { UsageError } from './errors.js';
import { progress } from './progress.js';

interface CommonOptions {
  model: string;
  device?: DeviceKind;
  adapter?: string;
  json?: boolean;
}

export interface PredictCliOptions extends CommonOptions {
  out: string;
}

/** Image files named directly or found (not recursively) in named folders, sorted. */
async function collectImages(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => null);
    if (!info) throw new UsageError(`${input}: no such image or folder`);
    if (info.isDirectory()) {
      const names = (await readdir(input)).filter((n) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase())).sort();
      out.push(...names.map((n) => join(input, n)));
    } else out.push(input);
  }
  if (out.length === 0) throw new UsageError(`no images in ${inputs.join(', ')}`);
  return out;
}

export async function runPredict(inputs: string[], o: PredictCliOptions): Promise<void> {
  const images = await collectImages(inputs);
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
      const mask = thresholdMask(grey);
      const stem = join(o.out, clash ? `${basename(dirname(path))}_${stems[i]}` : stems[i]!);
      const files = { probability: `${stem}_prob.png`, mask: `${stem}_mask.png`, overlay: `${stem}_overlay.png` };
      await writePng(files.probability, grey, rgb.width, rgb.height, 1);
      await writePng(files.mask, mask, rgb.width, rgb.height, 1);
      await writePng(files.overlay, overlay(rgb, mask), rgb.width, rgb.height, 3);
      written.push({ image: path, ...files, defectPixels: mask.reduce((n, v) => n + (v ? 1 : 0), 0) });
      bar.update(i + 1);
    }
  } finally {
    bar.stop();
    loaded.close();
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ images: written })}\n`);
  else process.stdout.write(`wrote probability maps, masks and overlays for ${written.length} image(s) to ${resolve(o.out)}\n`);
}

/** The run's evaluation set (split.json): every non-shot defect image and test/good. */
export async function evaluationItems(runDir: string): Promise<LabelledImage[]> {
  const { split } = await readSplit(join(runDir, 'split.json'));
  return [
    ...split.evalDefects.map((d) => ({ image: d.image, mask: d.mask, type: d.type })),
    ...split.evalGood.map((image) => ({ image, mask: null, type: 'good' })),
  ];
}

export async function runEval(o: CommonOptions): Promise<void> {
  const items = await evaluationItems(o.model);
  const loaded = await loadModel(o.model, { device: o.device, adapter: o.adapter });
  const bar = progress('eval', items.length, { quiet: o.json });
  try {
    const result = await evaluate(loaded.model, loaded.device.backend, items, loaded.size, (done) => bar.update(done));
    bar.stop();
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const row = (name: string, m: typeof result.overall) =>
      `${name.padEnd(14)} ${fmt(m.iou)} ${fmt(m.miou)} ${fmt(m.dice)} ${fmt(m.auroc)} ${fmt(m.ap)}`;
    process.stdout.write(`${'type'.padEnd(14)} ${['IoU', 'mIoU', 'Dice', 'AUROC', 'AP'].map((h) => h.padStart(6)).join(' ')}\n`);
    for (const [t, m] of Object.entries(result.perType)) if (t !== 'good') process.stdout.write(`${row(t, m)}\n`);
    process.stdout.write(`${row('overall', result.overall)}\n`);
    process.stdout.write(`(${result.images} images at ${result.size}x${result.size}; threshold 0.5)\n`);
  } finally {
    bar.stop();
    loaded.close();
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3).padStart(6) : '     -';
}
