// `gpuseg predict`: a probability map, a mask and an overlay picture for each image, and its verdict
// (OK or NG from the mask's regions) in --json and OUT/verdicts.csv, OUT/regions.csv.
import { resolve } from 'node:path';
import { DEFAULT_MIN_AREA, imageSize, judgeMask, overlay, readRgb, thresholdMask, writePng } from '../data/index.js';
import { inferenceTrouble, loadModel } from '../evaluate/model-io.js';
import { type Tiling, type TilingFlags, probabilityMap, tilingOf } from '../evaluate/tiled-predict.js';
import { weightsOf } from '../run/run-folder.js';
import { runMinArea, runThreshold } from '../evaluate/threshold.js';
import type { DeviceKind } from '../backend/open.js';
import { makeFolder } from '../util/files.js';
import { type OutputFiles, collectImages, planOutputs, recordOutputs } from './predict-files.js';
import { type JudgedImage, clearVerdicts, summaryPaths, verdictLines, writeVerdicts } from './predict-verdicts.js';
import { progress } from './progress.js';

export interface CommonOptions {
  model: string;
  device?: DeviceKind;
  adapter?: string;
  json?: boolean;
}

export interface PredictCliOptions extends CommonOptions, TilingFlags {
  out: string;
  /** Instead of the run's threshold.json. */
  threshold?: number;
  /** An image is NG when a region above the threshold has at least this many pixels. */
  minArea?: number;
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
  // The run's own region size goes with its own threshold only: --threshold moves the regions.
  const recorded = o.minArea === undefined && o.threshold === undefined ? await runMinArea(o.model) : null;
  const minArea = o.minArea ?? recorded ?? DEFAULT_MIN_AREA;
  const minAreaSource = o.minArea !== undefined ? '--min-area' : recorded !== null ? 'threshold.json' : `default ${DEFAULT_MIN_AREA}`;
  const written: (JudgedImage & { defectPixels: number } & OutputFiles)[] = [];
  let tiling: Tiling | null = null;
  try {
    tiling = tilingOf(o.model, loaded.config, o);
    await clearVerdicts(o.out);
    for (const [i, { image: path, files }] of plan.entries()) {
      const rgb = await readRgb(path);
      const grey = await probabilityMap(loaded, path, rgb, tiling);
      const mask = thresholdMask(grey, threshold.value);
      await writePng(files.probability, grey, rgb.width, rgb.height, 1);
      await writePng(files.mask, mask, rgb.width, rgb.height, 1);
      await writePng(files.overlay, overlay(rgb, mask), rgb.width, rgb.height, 3);
      const verdict = judgeMask(mask, grey, rgb.width, rgb.height, minArea);
      written.push({ image: path, ...files, defectPixels: mask.reduce((n, v) => n + (v ? 1 : 0), 0), ...verdict });
      bar.update(i + 1);
    }
  } catch (err) {
    // The images finished before the failure keep their verdicts, as they keep their pictures; a failure
    // to write them (the disk that stopped the image) must not hide the first error.
    if (written.length > 0) await writeVerdicts(o.out, written).catch(() => undefined);
    throw inferenceTrouble(err, 'predicting', loaded, 1, tiling);
  } finally {
    bar.stop();
    loaded.close();
  }
  await writeVerdicts(o.out, written);
  const csv = summaryPaths(o.out);
  if (o.json) process.stdout.write(`${JSON.stringify({ images: written, threshold, minArea, minAreaSource, verdictsCsv: csv.verdicts, regionsCsv: csv.regions })}\n`);
  else {
    process.stdout.write(`wrote probability maps, masks (probability > ${Number(threshold.value.toPrecision(4))}, ${threshold.source}) and overlays for ${written.length} image(s) to ${resolve(o.out)}\n`);
    process.stdout.write(`${verdictLines(written, minArea, minAreaSource).join('\n')}\n`);
  }
}
