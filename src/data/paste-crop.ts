// A crop of a shot as crop-and-paste (paste.ts) moves it: its alpha feathered outward, and its flips and
// quarter turns, numbered as augment.ts numbers them for the square image but on any rectangle.
import { MIRROR_BIT, QUARTER_TURNS, checkTransform } from './augment.js';

export const CHANNELS = 3;

/**
 * Radius of the blur that feathers alpha: a (2r+1) x (2r+1) box blur (done separably), zero outside the
 * crop, taken outward only: a defect pixel keeps alpha 1 (ours: with the plain blur a scratch 1 or 2 px
 * wide would peak at 5/25 or 10/25, leave an empty target and still show faintly in the image, i.e. be
 * taught as background). The margin being larger than the radius means nothing of the feather is cut
 * off, except at the image border, where zero outside is right anyway.
 */
export const FEATHER_RADIUS = 2;

/**
 * A 0/1 mask feathered outward: 1 on the mask, elsewhere the (2r+1) x (2r+1) box blur with zero outside
 * (the count of set pixels in the window over its area). Counts are summed as integers (row pass, then
 * column pass), so alpha is exactly count / (2r+1)^2 whatever the order, and a flipped or turned mask
 * gives the flipped or turned alpha.
 */
export function featherAlpha(
  inside: Uint8Array,
  height: number,
  width: number,
  radius = FEATHER_RADIUS,
): Float32Array {
  if (inside.length !== height * width) {
    throw new Error(`featherAlpha: ${inside.length} values do not make a ${height}x${width} mask`);
  }
  const rows = new Uint16Array(height * width);
  const prefix = new Int32Array(Math.max(height, width) + 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) prefix[x + 1] = prefix[x]! + inside[y * width + x]!;
    for (let x = 0; x < width; x++) {
      rows[y * width + x] = prefix[Math.min(width, x + radius + 1)]! - prefix[Math.max(0, x - radius)]!;
    }
  }
  const area = (2 * radius + 1) ** 2;
  const alpha = new Float32Array(height * width);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) prefix[y + 1] = prefix[y]! + rows[y * width + x]!;
    for (let y = 0; y < height; y++) {
      const p = y * width + x;
      alpha[p] = inside[p] ? 1 : (prefix[Math.min(height, y + radius + 1)]! - prefix[Math.max(0, y - radius)]!) / area;
    }
  }
  return alpha;
}

/** Height and width of a height x width crop after transform t: an odd number of quarter turns swaps them. */
export function transformedSize(t: number, height: number, width: number): [number, number] {
  return t & 1 ? [width, height] : [height, width];
}

/**
 * Where the pixel (y, x) of a height x width crop lands under transform t: the convention of
 * augment.ts's dihedralPoint (mirror left-right when t & 4, then t & 3 quarter turns clockwise),
 * generalised to non-square rectangles, where each turn swaps the current height and width.
 */
export function cropPoint(t: number, y: number, x: number, height: number, width: number): [number, number] {
  checkTransform(t);
  if (t & MIRROR_BIT) x = width - 1 - x;
  let h = height;
  let w = width;
  for (let turn = 0; turn < (t & (QUARTER_TURNS - 1)); turn++) {
    [y, x] = [x, h - 1 - y];
    [h, w] = [w, h];
  }
  return [y, x];
}

/** A rectangle of HWC pixels with its alpha: what is cut from a shot and pasted elsewhere. */
export interface Crop {
  height: number;
  width: number;
  /** height*width*3. */
  pixels: Float32Array;
  /** height*width. */
  alpha: Float32Array;
}

/** The crop's pixels and alpha under transform t (a new crop; t = 0 copies). */
export function transformCrop(crop: Crop, t: number): Crop {
  const { height, width } = crop;
  const [outHeight, outWidth] = transformedSize(t, height, width);
  // The map is affine, so three landings give the start and the steps along x and y of the whole loop.
  const [oy, ox] = cropPoint(t, 0, 0, height, width);
  const [xy, xx] = cropPoint(t, 0, 1, height, width);
  const [yy, yx] = cropPoint(t, 1, 0, height, width);
  const start = oy * outWidth + ox;
  const stepX = (xy - oy) * outWidth + (xx - ox);
  const stepY = (yy - oy) * outWidth + (yx - ox);
  const pixels = new Float32Array(crop.pixels.length);
  const alpha = new Float32Array(crop.alpha.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = y * width + x;
      const to = start + y * stepY + x * stepX;
      alpha[to] = crop.alpha[from]!;
      for (let c = 0; c < CHANNELS; c++) pixels[to * CHANNELS + c] = crop.pixels[from * CHANNELS + c]!;
    }
  }
  return { height: outHeight, width: outWidth, pixels, alpha };
}

