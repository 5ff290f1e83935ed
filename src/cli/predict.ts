// `gpuseg predict`: a probability map, a mask and an overlay picture for each image.
import { resolve } from 'node:path';
import { imageSize, overlay, readRgb, resizeProbability, thresholdMask, writePng } from '../data/index.js';
import { inferenceTrouble, loadModel, predict } from '../train/model-io.js';
import { weightsOf } from '../train/run-folder.js';
import { runThreshold } from '../train/threshold.js';
import type { DeviceKind } from '../train/device.js';
import { makeFolder } from '../util/files.js';
import { type OutputFiles, collectImages, planOutputs, recordOutputs } from './predict-files.js';
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

export async function runPredict(inputs: string[], o: PredictCliOptions): Promise<void> {
  const warn = (message: string) => process.stderr.write(`gpuseg: warning: ${message}\n`);
  const images = await collectImages(inputs, warn);
  // Every image's header and the output folder are checked before the model loads (seconds), so a bad
  // file stops the command at once rather than half-way through the images.
  for (const path of images) await imageSize(path);
  const threshold = await runThreshold(o.model, o.threshold);
  await makeFolder(o.out, '--out');
  const plan = await planOutputs(images, o.out);
  await recordOutputs(o.out, plan);
  const loaded = await loadModel(o.model, { device: o.device, adapter: o.adapter });
  const unfinished = (await weightsOf(o.model))?.unfinished;
  if (unfinished) warn(`'${o.model}': ${unfinished}`);
  const bar = progress('predict', images.length, { quiet: o.json });
  const written: ({ image: string; defectPixels: number } & OutputFiles)[] = [];
  try {
    for (const [i, { image: path, files }] of plan.entries()) {
      const [prob] = await predict(loaded, [path]);
      const rgb = await readRgb(path);
      const grey = await resizeProbability(prob!, loaded.size, rgb.width, rgb.height);
      const mask = thresholdMask(grey, threshold.value);
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
