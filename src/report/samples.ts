// The grid of evaluation images, worst first: for each, the image at the model's size, its ground truth,
// and the prediction tinted over the image with the ground truth outlined, so that a person sees at once
// what was missed (outline without tint) and what was a false alarm (tint outside the outline).
import { join } from 'node:path';
import sharp from 'sharp';
import { readImage, readMask } from '../data/image.js';
import { overlay, thresholdMask } from '../data/overlay.js';
import type { EvalFile, EvalImage } from './formats.js';
import { escapeHtml } from './html.js';
import { formatMetric, isNumber } from './numbers.js';
import { InputError } from '../util/errors.js';

const BYTE_MAX = 255;
const RGB = 3;
/** Ground-truth outline colour: cyan stands apart from the red prediction tint, also for red-green deficiency. */
const OUTLINE = [0, 200, 255] as const;
/** The red of src/data/overlay.ts's tint, for the key above the grid. */
const TINT_CSS = 'rgba(255,0,0,0.5)';
/** Images are shown at this many CSS pixels; smaller models are scaled up without smoothing. */
const DISPLAY_PX = 160;

async function pngDataUri(data: Uint8Array, size: number, channels: 1 | 3): Promise<string> {
  const png = await sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width: size, height: size, channels },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** The probability PNG (8-bit grey, probability * 255) at size x size. */
async function readProbability(path: string, size: number): Promise<Uint8Array> {
  try {
    const grey = await sharp(path)
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel: 'nearest' })
      .toColourspace('b-w')
      .raw()
      .toBuffer();
    return new Uint8Array(grey.buffer, grey.byteOffset, size * size);
  } catch (err) {
    throw new InputError(`cannot read probability map '${path}': ${String((err as Error).message).split('\n')[0]}`);
  }
}

/**
 * Mask pixels (0/1) within `thickness` steps (along a row or a column) of a pixel outside the mask; the
 * image border counts as outside, so a defect touching it is closed.
 */
export function maskOutline(mask: Uint8Array, size: number, thickness = 1): Uint8Array {
  const out = new Uint8Array(mask.length);
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < size && y < size && mask[y * size + x] === 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!inside(x, y)) continue;
      for (let d = 1; d <= thickness && !out[y * size + x]; d++) {
        if (!inside(x - d, y) || !inside(x + d, y) || !inside(x, y - d) || !inside(x, y + d)) out[y * size + x] = 1;
      }
    }
  }
  return out;
}

export interface SampleViews {
  image: string;
  truth: string;
  prediction: string;
}

/** The three data-URI PNGs of one evaluation image. */
export async function renderSample(runDir: string, entry: EvalImage, size: number, threshold: number): Promise<SampleViews> {
  if (entry.probability === null) throw new InputError(`no probability map for '${entry.image}'`);
  const rgb = Uint8Array.from(await readImage(join(runDir, entry.image), size), (v) => Math.round(v * BYTE_MAX));
  const truth = entry.mask ? await readMask(join(runDir, entry.mask), size) : new Uint8Array(size * size);
  const predicted = thresholdMask(await readProbability(join(runDir, entry.probability), size), threshold);
  const tinted = overlay({ data: rgb, width: size, height: size }, predicted);
  // Thicker at sizes shown scaled down, so that the outline survives the browser's downscaling.
  const outline = maskOutline(truth, size, Math.max(1, Math.round(size / DISPLAY_PX)));
  for (let p = 0; p < outline.length; p++) if (outline[p]) tinted.set(OUTLINE, p * RGB);
  return {
    image: await pngDataUri(rgb, size, RGB),
    truth: await pngDataUri(Uint8Array.from(truth, (v) => v * BYTE_MAX), size, 1),
    prediction: await pngDataUri(tinted, size, RGB),
  };
}

function view(label: string, uri: string, cls: string, alt: string, pixelated: boolean): string {
  const classes = [cls, pixelated ? 'pixelated' : ''].filter(Boolean).join(' ');
  return (
    `<div class="view"><img class="${classes}" src="${uri}" width="${DISPLAY_PX}" height="${DISPLAY_PX}" alt="${escapeHtml(alt)}">` +
    `${escapeHtml(label)}</div>`
  );
}

function caption(entry: EvalImage): string {
  const score =
    entry.mask === null
      ? `defect-free · ${entry.predictedPixels.toLocaleString('en-US')} px predicted`
      : `IoU ${formatMetric(entry.iou)} · ${entry.defectPixels.toLocaleString('en-US')} px defect, ${entry.predictedPixels.toLocaleString('en-US')} predicted`;
  return `<div class="caption"><strong>${escapeHtml(entry.type)}</strong> · ${escapeHtml(score)}<br><span class="name">${escapeHtml(entry.image)}</span></div>`;
}

/** One card; a file that cannot be read becomes a visible note in the card, not a failed report. */
async function sampleCard(runDir: string, entry: EvalImage, evaluation: EvalFile): Promise<string> {
  const name = entry.image.split('/').pop() ?? entry.image;
  let views: string;
  try {
    const v = await renderSample(runDir, entry, evaluation.size, evaluation.threshold);
    const pixelated = evaluation.size < DISPLAY_PX;
    views =
      view('image', v.image, 'image', `${name}`, pixelated) +
      view('ground truth', v.truth, 'truth', `${name}: ground truth`, pixelated) +
      view('prediction', v.prediction, 'prediction', `${name}: prediction`, pixelated);
  } catch (err) {
    views = `<div class="missing">${escapeHtml((err as Error).message)}</div>`;
  }
  return `<div class="sample${entry.mask === null ? '' : ' defect'}"><div class="views">${views}</div>${caption(entry)}</div>`;
}

/**
 * How eval.json says its images were measured, as words that finish 'measured …': at their own size in
 * tiles, or resized to the model's size (a file without `inference` predates tiles, so resized).
 */
export function inferenceWords(evaluation: EvalFile): string {
  const how = evaluation.inference;
  if (how?.mode !== 'tiles') return `with images ${how?.resize === 'pad' ? 'scaled to fit (padded to a square)' : 'resized'} to the model's ${evaluation.size}x${evaluation.size}`;
  const scale = isNumber(how.scale) && how.scale !== 1 ? ` times ${how.scale}` : '';
  const tiles = isNumber(how.tile) ? `${how.tile}x${how.tile} tiles` : 'tiles';
  return `at each image's own size${scale} in overlapping ${tiles}`;
}

/** The grid's images are drawn at the model's size, whichever way they were measured. */
function shownAs(evaluation: EvalFile): string {
  const size = `${evaluation.size}x${evaluation.size}`;
  if (evaluation.inference?.mode !== 'tiles') return `images resized to the model's ${size}`;
  return `images measured ${inferenceWords(evaluation)}, shown here resized to ${size}`;
}

/** The key and the grid of the first `limit` images that have a probability map, in the file's order. */
export async function sampleGrid(runDir: string, evaluation: EvalFile, limit = Infinity): Promise<string> {
  const withMaps = evaluation.images.filter((e) => e.probability !== null);
  const shown = withMaps.slice(0, limit);
  if (shown.length === 0) return '<p class="note">The evaluation saved no probability maps.</p>';
  const cards: string[] = [];
  for (const entry of shown) cards.push(await sampleCard(runDir, entry, evaluation));
  const more =
    withMaps.length > shown.length
      ? ` The ${shown.length} worst of ${withMaps.length} with saved maps are shown.`
      : '';
  const key =
    `<div class="key"><span><span class="swatch" style="background:${TINT_CSS}"></span>predicted defect (probability &gt; ${evaluation.threshold})</span>` +
    `<span><span class="swatch" style="border:2px solid rgb(${OUTLINE.join(',')})"></span>ground-truth outline</span>` +
    '<span>tint outside the outline: false alarm · outline without tint: miss</span></div>';
  return (
    `<p class="note">Worst first: defect images by ascending IoU, then defect-free images by most predicted pixels; ` +
    `${escapeHtml(shownAs(evaluation))}.${more}</p>${key}<div class="samples">${cards.join('')}</div>`
  );
}
