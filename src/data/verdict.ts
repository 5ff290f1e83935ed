// OK or NG for one image from its predicted mask, and the regions behind it: the mask's 8-connected
// components (the regions of AUPRO and of crop-and-paste), each with its area, bounding box and the
// probabilities inside it. The mask predict judges is at the image's own size, so areas and boxes are in
// the image's own pixels. Probabilities are those of the 8-bit map predict writes (steps of 1/255).
import { connectedComponents } from './components.js';

/**
 * At most this many regions are listed per image, largest first; the rest are only counted. A noisy map
 * (thousands of one-pixel specks) would otherwise make the JSON and regions.csv huge.
 */
export const MAX_LISTED_REGIONS = 100;

/** The default of `gpuseg predict --min-area`: a single pixel above the threshold makes an image NG. */
export const DEFAULT_MIN_AREA = 1;

export interface Region {
  /** Pixels in the region. */
  area: number;
  /** Bounding box: top-left pixel and size, in pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Highest and mean probability of the region's pixels. */
  maxProbability: number;
  meanProbability: number;
}

export interface Verdict {
  /** NG when some region has at least minArea pixels. */
  verdict: 'OK' | 'NG';
  /** The defect score: the largest region's area in pixels (0 without any region). */
  score: number;
  /** The highest probability anywhere in the image, region or not (how near an OK image came). */
  maxProbability: number;
  regionCount: number;
  /** The largest regions, by area descending (ties: the one whose first pixel comes first in raster order). */
  regions: Region[];
  /** regionCount minus the regions listed. */
  regionsOmitted: number;
}

/** An 8-bit probability as a probability, to 4 decimals (finer would only repeat the 1/255 steps). */
const probability = (grey: number) => Number((grey / 255).toFixed(4));

/**
 * The verdict on a width x height image from its mask (non-zero: defect; predict's masks are
 * `grey > threshold * 255`, strictly) and its 8-bit probability map `grey`: NG when a region has an area
 * of at least `minArea` pixels (≥, so minArea 1 makes any defect pixel NG).
 */
export function judgeMask(
  mask: ArrayLike<number>,
  grey: ArrayLike<number>,
  width: number,
  height: number,
  minArea: number,
  maxListed = MAX_LISTED_REGIONS,
): Verdict {
  if (!Number.isInteger(minArea) || minArea < 1) throw new Error(`judgeMask: minArea must be a positive integer, got ${minArea}`);
  if (grey.length !== mask.length) throw new Error(`judgeMask: ${grey.length} probabilities for a mask of ${mask.length} pixels`);
  const { labels, count, sizes, boxes } = connectedComponents(mask, width, height);
  const top = new Array<number>(count).fill(0);
  const sum = new Array<number>(count).fill(0);
  let highest = 0;
  for (let p = 0; p < labels.length; p++) {
    const g = grey[p]!;
    if (g > highest) highest = g;
    const k = labels[p]! - 1;
    if (k < 0) continue;
    sum[k] += g;
    if (g > top[k]!) top[k] = g;
  }
  // Array.prototype.sort is stable: equal areas keep the labels' raster order.
  const order = Array.from({ length: count }, (_, k) => k).sort((a, b) => sizes[b]! - sizes[a]!);
  const regions = order.slice(0, maxListed).map((k): Region => {
    const box = boxes[k]!;
    return {
      area: sizes[k]!,
      x: box.x0,
      y: box.y0,
      width: box.x1 - box.x0 + 1,
      height: box.y1 - box.y0 + 1,
      maxProbability: probability(top[k]!),
      meanProbability: probability(sum[k]! / sizes[k]!),
    };
  });
  const score = count > 0 ? sizes[order[0]!]! : 0;
  return {
    verdict: score >= minArea ? 'NG' : 'OK',
    score,
    maxProbability: probability(highest),
    regionCount: count,
    regions,
    regionsOmitted: count - regions.length,
  };
}
