// Crop-and-paste (METHOD.md, "Crop-and-paste"): cut one defect, with a margin of its surroundings, out of an
// annotated shot and blend it into a normal image, so that a few shots give many annotated samples.
// Host-side, per sample and step, at training resolution: typed arrays only, no per-pixel objects.
// The crop's feathering and its flips and turns are in paste-crop.ts.
import { DIHEDRAL_COUNT, checkTransform } from './augment.js';
import { type Box, type Components, connectedComponents } from './components.js';
import { CHANNELS, type Crop, featherAlpha, transformCrop, transformedSize } from './paste-crop.js';
import type { Rng } from '../util/random.js';

export type PasteMode = 'anywhere' | 'near' | 'matched';

/** Px the component's bounding box is grown by on each side, so the crop carries some context. */
export const PASTE_MARGIN = 8;
/** 'near': the offset is at most this fraction of the image size in y and in x. */
export const NEAR_FRACTION = 0.1;
/**
 * 'matched': placements drawn as for 'anywhere', of which the one whose surroundings look most like the
 * defect's own is taken: a defect cut from an object lands on the object, not on the background.
 */
export const MATCH_CANDIDATES = 16;
/** Alpha above this is a defect pixel of the target mask. */
export const ALPHA_THRESHOLD = 0.5;

export interface PasteResult {
  /** The composite: alpha * source + (1 - alpha) * background, per channel. */
  image: Float32Array;
  /** The target: alpha > 0.5. */
  mask: Uint8Array;
  /** size*size; zero outside placedBox. */
  alpha: Float32Array;
  /** The same pixels as `mask`, in the SOURCE image's coordinates (before the crop's transform and move). */
  sourceMask: Uint8Array;
  /** Label of the component used (1-based, as connectedComponents numbers them). */
  component: number;
  /** Dihedral index applied to the crop (0 = none; always 0 for 'near'). */
  transform: number;
  /** Where the grown box's top-left corner moved: [dy, dx] from its source position. */
  offset: [number, number];
  /** The grown, clipped box in the source (inclusive). */
  sourceBox: Box;
  /** Where the transformed crop lies in the composite (inclusive). */
  placedBox: Box;
}

/** What pasteAt needs to reproduce a paste; a PasteResult is one. */
export interface Placement {
  component: number;
  transform: number;
  offset: [number, number];
}

export interface Source {
  image: Float32Array;
  mask: Uint8Array;
  /**
   * connectedComponents(mask, size, size), when the caller keeps it: the shots are fixed, and labelling
   * is about half the cost of a paste. Trusted as given.
   */
  components?: Components;
}

/**
 * Picks one connected component of the source mask uniformly, cuts it out with its margin, and pastes it
 * onto the background. 'anywhere': a random flip/quarter turn and a uniformly random position where the
 * crop fits; 'near': no transform, the source position moved by up to round(0.1 * size) px in y and in x
 * (clamped into the image); 'matched' (ours): MATCH_CANDIDATES placements drawn as for 'anywhere', the
 * one whose background under the crop's margin (alpha 0) is nearest (mean squared difference) to the
 * margin's own pixels, the first on ties. null when the source mask has no component. Draws from r only,
 * in this order: component, then ('anywhere') transform, y, x, ('matched') that per candidate, or
 * ('near') dy, dx.
 */
export function cropAndPaste(
  source: Source,
  background: Float32Array,
  size: number,
  mode: PasteMode,
  r: Rng,
): PasteResult | null {
  checkInputs(source, background, size);
  const comps = componentsOf(source, size);
  if (comps.count === 0) return null;
  const component = 1 + randomInt(r, comps.count);
  const box = grownBox(comps.boxes[component - 1]!, size);
  const height = box.y1 - box.y0 + 1;
  const width = box.x1 - box.x0 + 1;
  let transform = 0;
  let y: number;
  let x: number;
  if (mode === 'anywhere') {
    transform = randomInt(r, DIHEDRAL_COUNT);
    const [h, w] = transformedSize(transform, height, width);
    y = randomInt(r, size - h + 1);
    x = randomInt(r, size - w + 1);
  } else if (mode === 'matched') {
    const crop = cutCrop(source.image, comps.labels, component, size, box);
    let best = Infinity;
    [y, x] = [0, 0];
    for (let k = 0; k < MATCH_CANDIDATES; k++) {
      const t = randomInt(r, DIHEDRAL_COUNT);
      const moved = transformCrop(crop, t);
      const cy = randomInt(r, size - moved.height + 1);
      const cx = randomInt(r, size - moved.width + 1);
      const d = marginDistance(moved, background, size, cy, cx);
      if (d < best) [best, transform, y, x] = [d, t, cy, cx];
    }
  } else {
    const reach = Math.round(NEAR_FRACTION * size);
    y = clamp(box.y0 + randomInt(r, 2 * reach + 1) - reach, 0, size - height);
    x = clamp(box.x0 + randomInt(r, 2 * reach + 1) - reach, 0, size - width);
  }
  return paste(source, background, size, comps, { component, transform, offset: [y - box.y0, x - box.x0] });
}

/**
 * The paste with its placement given (no randomness): for tests and for reproducing a sample, e.g. a
 * component pasted onto its own shot with transform 0 and offset [0, 0] gives back the shot exactly.
 * Throws when the component does not exist or the moved crop does not fit in the image.
 */
export function pasteAt(source: Source, background: Float32Array, size: number, placement: Placement): PasteResult {
  checkInputs(source, background, size);
  const comps = componentsOf(source, size);
  const { component, transform, offset } = placement;
  if (!Number.isInteger(component) || component < 1 || component > comps.count) {
    throw new Error(`pasteAt: component ${component} not in 1..${comps.count}`);
  }
  checkTransform(transform);
  const box = grownBox(comps.boxes[component - 1]!, size);
  const [h, w] = transformedSize(transform, box.y1 - box.y0 + 1, box.x1 - box.x0 + 1);
  const [y, x] = [box.y0 + offset[0], box.x0 + offset[1]];
  if (!Number.isInteger(y) || !Number.isInteger(x) || y < 0 || x < 0 || y + h > size || x + w > size) {
    throw new Error(`pasteAt: a ${h}x${w} crop at (${y}, ${x}) does not fit in a ${size}x${size} image`);
  }
  return paste(source, background, size, comps, { component, transform, offset: [offset[0], offset[1]] });
}

function paste(
  source: Source,
  background: Float32Array,
  size: number,
  comps: Components,
  placement: Placement,
): PasteResult {
  const { component, transform, offset } = placement;
  const sourceBox = grownBox(comps.boxes[component - 1]!, size);
  const crop = cutCrop(source.image, comps.labels, component, size, sourceBox);
  const moved = transformCrop(crop, transform);
  const top = sourceBox.y0 + offset[0];
  const left = sourceBox.x0 + offset[1];
  const placedBox = { x0: left, y0: top, x1: left + moved.width - 1, y1: top + moved.height - 1 };
  const image = background.slice();
  const alpha = new Float32Array(size * size);
  const mask = new Uint8Array(size * size);
  for (let y = 0; y < moved.height; y++) {
    for (let x = 0; x < moved.width; x++) {
      const from = y * moved.width + x;
      const to = (top + y) * size + left + x;
      const a = moved.alpha[from]!;
      alpha[to] = a;
      mask[to] = a > ALPHA_THRESHOLD ? 1 : 0;
      // b + a * (s - b) rather than a*s + (1-a)*b: exactly b where a = 0 or s = b, so a crop pasted onto
      // its own shot gives back the shot bit for bit.
      for (let c = 0; c < CHANNELS; c++) {
        const b = background[to * CHANNELS + c]!;
        image[to * CHANNELS + c] = b + a * (moved.pixels[from * CHANNELS + c]! - b);
      }
    }
  }
  const sourceMask = new Uint8Array(size * size);
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      if (crop.alpha[y * crop.width + x]! > ALPHA_THRESHOLD) {
        sourceMask[(sourceBox.y0 + y) * size + sourceBox.x0 + x] = 1;
      }
    }
  }
  return { image, mask, alpha, sourceMask, component, transform, offset: [offset[0], offset[1]], sourceBox, placedBox };
}

/** Mean squared difference between a crop's margin (alpha 0) and the background under it at (top, left). */
export function marginDistance(crop: Crop, background: Float32Array, size: number, top: number, left: number): number {
  let sum = 0;
  let count = 0;
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      const from = y * crop.width + x;
      if (crop.alpha[from] !== 0) continue;
      const to = ((top + y) * size + left + x) * CHANNELS;
      for (let c = 0; c < CHANNELS; c++) sum += (crop.pixels[from * CHANNELS + c]! - background[to + c]!) ** 2;
      count++;
    }
  }
  return count ? sum / (count * CHANNELS) : 0;
}

/** The component's bounding box grown by PASTE_MARGIN on each side, clipped to the image. */
export function grownBox(box: Box, size: number): Box {
  return {
    x0: Math.max(0, box.x0 - PASTE_MARGIN),
    y0: Math.max(0, box.y0 - PASTE_MARGIN),
    x1: Math.min(size - 1, box.x1 + PASTE_MARGIN),
    y1: Math.min(size - 1, box.y1 + PASTE_MARGIN),
  };
}

/** The source pixels in the box, and the feathered mask of that one component (not of others in the box). */
function cutCrop(image: Float32Array, labels: Int32Array, label: number, size: number, box: Box): Crop {
  const height = box.y1 - box.y0 + 1;
  const width = box.x1 - box.x0 + 1;
  const pixels = new Float32Array(height * width * CHANNELS);
  const inside = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    const row = (box.y0 + y) * size + box.x0;
    pixels.set(image.subarray(row * CHANNELS, (row + width) * CHANNELS), y * width * CHANNELS);
    for (let x = 0; x < width; x++) inside[y * width + x] = labels[row + x] === label ? 1 : 0;
  }
  return { height, width, pixels, alpha: featherAlpha(inside, height, width) };
}

/**
 * The mask max-pooled to the (size/stride)^2 grid of encoder features: a cell is 1 when any of its
 * stride x stride pixels is, so a cell touched by a defect counts as a defect cell.
 */
export function maxPoolMask(mask: Uint8Array, size: number, stride: number): Uint8Array {
  if (!Number.isInteger(size) || !Number.isInteger(stride) || size <= 0 || stride <= 0 || size % stride !== 0) {
    throw new Error(`maxPoolMask: size ${size} is not a positive multiple of stride ${stride}`);
  }
  if (mask.length !== size * size) {
    throw new Error(`maxPoolMask: ${mask.length} values do not make a ${size}x${size} mask`);
  }
  const cells = size / stride;
  const out = new Uint8Array(cells * cells);
  for (let y = 0; y < size; y++) {
    const cellRow = Math.floor(y / stride) * cells;
    for (let x = 0; x < size; x++) {
      if (mask[y * size + x]) out[cellRow + Math.floor(x / stride)] = 1;
    }
  }
  return out;
}

function componentsOf(source: Source, size: number): Components {
  return source.components ?? connectedComponents(source.mask, size, size);
}

function checkInputs(source: Source, background: Float32Array, size: number): void {
  if (!Number.isInteger(size) || size <= 0) throw new Error(`crop-and-paste: bad size ${size}`);
  const pixels = size * size;
  if (source.mask.length !== pixels) {
    throw new Error(`crop-and-paste: source mask has ${source.mask.length} values, not ${size}x${size}`);
  }
  if (source.image.length !== pixels * CHANNELS) {
    throw new Error(`crop-and-paste: source image has ${source.image.length} values, not ${size}x${size}x3`);
  }
  if (background.length !== pixels * CHANNELS) {
    throw new Error(`crop-and-paste: background has ${background.length} values, not ${size}x${size}x3`);
  }
}

/** A uniform integer in 0..n-1 from one draw (the min guards r() rounding up to 1). */
function randomInt(r: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(r() * n));
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
