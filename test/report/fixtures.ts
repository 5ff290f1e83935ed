// Fixture run and experiment folders in the formats the trainer and the experiment runner write:
// config.json, a log.jsonl of a few hundred steps ending in a partial line (a killed run), and an
// eval.json whose images, masks and probability maps are simple shapes drawn here.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

export const FIXTURE_SIZE = 64;
export const FIXTURE_STEPS = 400;
const VALIDATION_EVERY = 100;
const DISC_RADIUS = 10;
/** Probability inside the predicted disc (of 255): above the 0.5 threshold. */
const PREDICTED_LEVEL = 210;

export interface RunFixture {
  category?: string;
  shots?: number;
  splitSeed?: number;
  nbr?: boolean;
  cropPaste?: boolean;
  weighting?: boolean;
  /** Write eval.json and its pictures (default true). */
  evaluate?: boolean;
  /** Logged steps (default FIXTURE_STEPS). */
  steps?: number;
}

async function png(path: string, width: number, channels: 1 | 3, pixel: (x: number, y: number) => number[]): Promise<void> {
  const data = Buffer.alloc(width * width * channels);
  for (let y = 0; y < width; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * channels);
  await mkdir(join(path, '..'), { recursive: true });
  await sharp(data, { raw: { width, height: width, channels } }).png().toFile(path);
}

const inDisc = (x: number, y: number, cx: number, cy: number) => (x - cx) ** 2 + (y - cy) ** 2 <= DISC_RADIUS ** 2;

/** A deterministic wiggle in [-1, 1], so that the curves look like noisy training curves. */
function wiggle(step: number, phase: number): number {
  return Math.sin(step * 12.9898 + phase * 78.233) * 0.5 + Math.sin(step * 0.37 + phase) * 0.5;
}

function logLines(steps: number, f: Required<Pick<RunFixture, 'nbr' | 'cropPaste'>>): string {
  const lines: string[] = [];
  for (let step = 1; step <= steps; step++) {
    // The variants learn at different rates, so that their curves do not hide each other.
    const seg = 0.8 * Math.exp(-step / (f.nbr ? 90 : 130)) + 0.04 + 0.01 * wiggle(step, 1);
    const bg = f.nbr ? 0.2 * Math.exp(-step / 150) + 0.01 : null;
    const feat = f.nbr ? 0.5 * Math.exp(-step / 200) + 0.05 + 0.01 * wiggle(step, 2) : null;
    const pasteWeight = f.cropPaste && step % 3 !== 0 ? 0.6 + 0.3 * Math.tanh(step / 200) + 0.03 * wiggle(step, 3) : null;
    const loss = seg + (bg ?? 0) + (feat ?? 0);
    lines.push(JSON.stringify({ step, loss, seg, bg, feat, pasteWeight, lr: 1e-4, imagesPerSecond: 5.1, time: step * 0.2 }));
    if (step % VALIDATION_EVERY === 0) {
      lines.push(JSON.stringify({ step, validationFalsePositiveRate: 0.05 * Math.exp(-step / 200) + 0.004 }));
    }
  }
  // A killed run can leave half a line.
  lines.push('{"step": ' + (steps + 1) + ', "lo');
  return lines.join('\n');
}

function metrics(iou: number | null, extra: Record<string, number | null> = {}) {
  return {
    iou, backgroundIou: 0.98, miou: iou === null ? null : (iou + 0.98) / 2, dice: iou === null ? null : (2 * iou) / (1 + iou),
    auroc: 0.93, ap: 0.61, f1Max: 0.66, f1MaxThreshold: 0.42, aupro: 0.71,
    pixels: 4 * FIXTURE_SIZE ** 2, defectPixels: 900, regions: 3, images: 4, ...extra,
  };
}

/**
 * Three defect images with masks and one good image in a data folder beside the run folder (paths with
 * '..', as a real run's point into its data set), the probability maps under RUN/eval/, and eval.json's
 * `images` for them, worst first.
 */
async function writeEvalPictures(runDir: string): Promise<object[]> {
  const defects = [
    { type: 'scratch', name: '000', cx: 20, cy: 24, shift: 8, iou: 0.31 },
    { type: 'hole', name: '001', cx: 40, cy: 36, shift: 4, iou: 0.55 },
    { type: 'scratch', name: '002', cx: 30, cy: 30, shift: 1, iou: 0.82 },
  ];
  const entries: object[] = [];
  for (const [i, d] of defects.entries()) {
    const image = `../data/test/${d.type}/${d.name}.png`;
    const mask = `../data/ground_truth/${d.type}/${d.name}_mask.png`;
    const probability = `eval/${String(i).padStart(3, '0')}.png`;
    await png(join(runDir, image), FIXTURE_SIZE, 3, (x, y) => (inDisc(x, y, d.cx, d.cy) ? [40, 30, 30] : [60 + 2 * x, 90 + y, 150]));
    await png(join(runDir, mask), FIXTURE_SIZE, 1, (x, y) => [inDisc(x, y, d.cx, d.cy) ? 255 : 0]);
    await png(join(runDir, probability), FIXTURE_SIZE, 1, (x, y) => [inDisc(x, y, d.cx + d.shift, d.cy) ? PREDICTED_LEVEL : 20]);
    entries.push({ image, mask, type: d.type, iou: d.iou, defectPixels: 317, predictedPixels: 317, probability });
  }
  const good = '../data/test/good/003.png';
  await png(join(runDir, good), FIXTURE_SIZE, 3, (x, y) => [60 + 2 * x, 90 + y, 150]);
  await png(join(runDir, 'eval/003.png'), FIXTURE_SIZE, 1, (x, y) => [inDisc(x, y, 50, 12) ? PREDICTED_LEVEL : 10]);
  entries.push({ image: good, mask: null, type: 'good', iou: null, defectPixels: 0, predictedPixels: 317, probability: 'eval/003.png' });
  // Beyond the saved maps: listed, not drawn.
  entries.push({ image: good, mask: null, type: 'good', iou: null, defectPixels: 0, predictedPixels: 0, probability: null });
  return entries;
}

/** A run folder with config.json, log.jsonl and (unless evaluate is false) eval.json and its pictures. */
export async function writeRunFixture(runDir: string, f: RunFixture = {}): Promise<void> {
  const options = { nbr: f.nbr ?? true, cropPaste: f.cropPaste ?? true };
  const steps = f.steps ?? FIXTURE_STEPS;
  await mkdir(runDir, { recursive: true });
  const config = {
    format: 'gpuseg-run/1', category: f.category ?? 'fabric', shots: f.shots ?? 5, splitSeed: f.splitSeed ?? 0, seed: 0,
    size: FIXTURE_SIZE, batch: 4, steps: FIXTURE_STEPS, lr: 1e-4, nbr: options.nbr, cropPaste: options.cropPaste,
    weighting: f.weighting ?? true, lambdaBg: 0.5, lambdaFeat: 0.1, nbrLayer: 3, paste: 'near', normalPerBatch: 2,
    device: 'gpu', step: steps,
  };
  await writeFile(join(runDir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(runDir, 'log.jsonl'), logLines(steps, options));
  if (f.evaluate === false) return;
  const images = await writeEvalPictures(runDir);
  const evaluation = {
    format: 'gpuseg-eval/1', size: FIXTURE_SIZE, threshold: 0.5, proFprLimit: 0.3,
    pooling: 'pixels pooled over all images of the evaluation set',
    overall: metrics(0.52),
    perType: { scratch: metrics(0.48), hole: metrics(0.55, { ap: null, f1MaxThreshold: null }) },
    images,
  };
  await writeFile(join(runDir, 'eval.json'), JSON.stringify(evaluation, null, 2));
}

const VARIANT_FLAGS: Record<string, Pick<RunFixture, 'nbr' | 'cropPaste' | 'weighting'>> = {
  baseline: { nbr: false, cropPaste: false, weighting: false },
  full: { nbr: true, cropPaste: true, weighting: true },
};

const keys = ['iou', 'miou', 'dice', 'auroc', 'ap', 'f1Max', 'aupro'] as const;
const summaryStats = (base: number, spread: number | null) =>
  Object.fromEntries(keys.map((k, i) => [k, spread === null ? null : base + spread * i * 0.01]));

/**
 * An experiment of two variants at 1 and 2 shots: both variants over split seeds 0 and 1 at 1 shot,
 * one finished cell and one unfinished cell (half a log, no eval.json) at 2 shots.
 */
export async function writeExperimentFixture(experimentDir: string): Promise<void> {
  const cells = [
    { variant: 'baseline', shots: 1, splitSeed: 0, iou: 0.3 },
    { variant: 'baseline', shots: 1, splitSeed: 1, iou: 0.34 },
    { variant: 'full', shots: 1, splitSeed: 0, iou: 0.45 },
    { variant: 'full', shots: 1, splitSeed: 1, iou: 0.41 },
    { variant: 'baseline', shots: 2, splitSeed: 0, iou: 0.4 },
    { variant: 'full', shots: 2, splitSeed: 0, iou: null },
  ];
  const listed = [];
  for (const c of cells) {
    const run = `cells/${c.variant}-${c.shots}shot-split${c.splitSeed}`;
    const finished = c.iou !== null;
    await writeRunFixture(join(experimentDir, run), {
      ...VARIANT_FLAGS[c.variant], shots: c.shots, splitSeed: c.splitSeed, evaluate: finished, steps: finished ? FIXTURE_STEPS : 150,
    });
    listed.push({
      variant: c.variant, shots: c.shots, splitSeed: c.splitSeed, run,
      overall: finished ? metrics(c.iou) : null,
      perType: finished ? { scratch: metrics(c.iou), hole: metrics(c.iou! + 0.05) } : null,
      seconds: finished ? 81.5 : null,
    });
  }
  const summary = [
    { variant: 'baseline', shots: 1, seeds: 2, mean: { ...summaryStats(0.7, 1), iou: 0.32 }, std: { ...summaryStats(0.01, 1), iou: 0.02 } },
    { variant: 'full', shots: 1, seeds: 2, mean: { ...summaryStats(0.75, 1), iou: 0.43 }, std: { ...summaryStats(0.02, 1), iou: 0.02 } },
    { variant: 'baseline', shots: 2, seeds: 1, mean: { ...summaryStats(0.8, 1), iou: 0.4 }, std: summaryStats(0, null) },
  ];
  const results = {
    format: 'gpuseg-experiment/1', data: '/data/synthetic/fabric', size: FIXTURE_SIZE, steps: FIXTURE_STEPS,
    variants: ['baseline', 'full'], shots: [1, 2], splitSeeds: [0, 1], cells: listed, summary,
  };
  await writeFile(join(experimentDir, 'results.json'), JSON.stringify(results, null, 2));
}
