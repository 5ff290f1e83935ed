// Tiled inference for images larger than the model's input: the image at its own pixels cut into
// overlapping N x N tiles on the CPU, `batch` tiles per forward pass, and the tiles' logits blended into
// one W x H map. Memory is `batch` tiles plus the output map, whatever the image's size.
//
// - Overlap N/4 (stride 3N/4), the last tile flush with the border: every pixel is at least N/8 from the
//   edge of the tile that weighs most there, at 1.8x the pixels of the image (stride N/2 would cost 4x).
// - Window: 1 in the middle, raised-cosine ramps over the overlap on the sides that meet a neighbour
//   (none on a side at the image's border, where no tile takes over). A ramp runs from 0 at the tile's
//   edge, whose pixels see the network's zero padding instead of the image, to 1, sin^2 over the overlap:
//   the ramps of two tiles one stride apart sum to exactly 1; the grid's irregular last step is handled
//   by dividing by the weights' sum anyway (never 0: a tile's edge lies where its neighbour weighs > 0).
// - The window and the grid are separable, so the 2-D weight sum is the product of the two axes' sums:
//   each axis' weights are divided by that axis' sum, and the products of the two sum to 1 at every
//   pixel without a W x H accumulator of weights.
// - An image smaller than a tile is padded by reflection (mirror without repeating the edge pixel) and
//   the padding cropped back: zeros would put a black frame into the tile, an edge the network may read
//   as a defect; a mirrored texture has the image's own statistics.
// - Logits are blended, then turned into probabilities by the caller: the metrics rank logits (float32
//   probabilities saturate into ties), and the threshold is compared as a logit.

/** The overlap of neighbouring tiles, as a share of the tile: 1/4. */
const OVERLAP_DIVISOR = 4;

export const defaultOverlap = (tile: number): number => Math.max(2, Math.floor(tile / OVERLAP_DIVISOR));

/** The tiles along one axis of an image: where each starts, and its normalised weights. */
export interface TileAxis {
  starts: number[];
  /** weights[i][t]: the weight of tile i at pixel starts[i] + t; 0 beyond the image. */
  weights: Float32Array[];
}

export interface TileGrid {
  width: number;
  height: number;
  tile: number;
  overlap: number;
  x: TileAxis;
  y: TileAxis;
  /** Tiles in all. */
  count: number;
}

/** Tile starts along an axis of `length` pixels: stride tile - overlap from 0, the last flush with the end. */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  checkTiling(length, tile, overlap);
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const count = Math.ceil((length - tile) / stride) + 1;
  const starts = Array.from({ length: count - 1 }, (_, i) => i * stride);
  starts.push(length - tile);
  return starts;
}

/**
 * The window along one axis of a tile: a ramp of `overlap` pixels from 0 (the edge pixel) to 1 on each
 * side given, 1 elsewhere. The ramps of neighbours one stride apart sum to 1: sin^2 a + sin^2 (pi/2 - a).
 */
export function tileWindow(tile: number, overlap: number, sides: { start: boolean; end: boolean } = { start: true, end: true }): Float64Array {
  checkTiling(tile, tile, overlap);
  const w = new Float64Array(tile).fill(1);
  for (let t = 0; t < overlap; t++) {
    const rise = Math.sin(((t / (overlap - 1)) * Math.PI) / 2) ** 2;
    if (sides.start) w[t] = Math.min(w[t]!, rise);
    if (sides.end) w[tile - 1 - t] = Math.min(w[tile - 1 - t]!, rise);
  }
  return w;
}

/** The tiles of one axis with their window weights divided by the sum over all tiles at each pixel. */
export function tileAxis(length: number, tile: number, overlap: number): TileAxis {
  const starts = tileStarts(length, tile, overlap);
  const windows = starts.map((_, i) => tileWindow(tile, overlap, { start: i > 0, end: i < starts.length - 1 }));
  const sum = new Float64Array(length);
  starts.forEach((s, i) => {
    for (let t = 0; t < tile && s + t < length; t++) sum[s + t]! += windows[i]![t]!;
  });
  const weights = starts.map((s, i) => {
    const w = new Float32Array(tile);
    for (let t = 0; t < tile && s + t < length; t++) w[t] = windows[i]![t]! / sum[s + t]!;
    return w;
  });
  return { starts, weights };
}

export function tileGrid(width: number, height: number, tile: number, overlap = defaultOverlap(tile)): TileGrid {
  const x = tileAxis(width, tile, overlap);
  const y = tileAxis(height, tile, overlap);
  return { width, height, tile, overlap, x, y, count: x.starts.length * y.starts.length };
}

function checkTiling(length: number, tile: number, overlap: number): void {
  if (!Number.isInteger(length) || length < 1) throw new Error(`tiles: bad image side ${length}`);
  if (!Number.isInteger(tile) || tile < 1) throw new Error(`tiles: bad tile size ${tile}`);
  if (!Number.isInteger(overlap) || overlap < 2 || 2 * overlap > tile) {
    throw new Error(`tiles: the overlap must be an integer from 2 to half the tile (${tile}), got ${overlap}`);
  }
}

/** Index i folded into [0, n) by mirroring at the ends without repeating the edge (any i >= 0). */
export function reflect(i: number, n: number): number {
  if (i < n) return i;
  if (n === 1) return 0;
  const period = 2 * n - 2;
  const m = i % period;
  return m < n ? m : period - m;
}

/** An 8-bit RGB image (HWC), as readRgb gives it. */
export interface RgbBytes {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * The tile x tile RGB floats in [0, 1] at (x0, y0), mirrored past the image's right and bottom edges,
 * written into `out` when given (tiledLogits reuses its batch's buffers rather than leave garbage).
 */
export function cutTile(image: RgbBytes, x0: number, y0: number, tile: number, out = new Float32Array(tile * tile * 3)): Float32Array {
  const { data, width, height } = image;
  for (let ty = 0; ty < tile; ty++) {
    const row = reflect(y0 + ty, height) * width;
    for (let tx = 0; tx < tile; tx++) {
      const from = (row + reflect(x0 + tx, width)) * 3;
      const to = (ty * tile + tx) * 3;
      // The float32 of byte / 255, as readImage gives it.
      for (let c = 0; c < 3; c++) out[to + c] = data[from + c]! / 255;
    }
  }
  return out;
}

/** Adds tile (ix, iy)'s logits (tile x tile, row-major) into the W x H map with their blending weights. */
export function blendTile(out: Float32Array, grid: TileGrid, ix: number, iy: number, logits: Float32Array): void {
  const { width, height, tile } = grid;
  const x0 = grid.x.starts[ix]!;
  const y0 = grid.y.starts[iy]!;
  const wx = grid.x.weights[ix]!;
  const wy = grid.y.weights[iy]!;
  const columns = Math.min(tile, width - x0);
  for (let ty = 0; ty < tile && y0 + ty < height; ty++) {
    const a = wy[ty]!;
    const to = (y0 + ty) * width + x0;
    const from = ty * tile;
    for (let tx = 0; tx < columns; tx++) out[to + tx]! += a * wx[tx]! * logits[from + tx]!;
  }
}

/** Logits (tile x tile each, row-major) for tiles (tile x tile x 3 RGB floats in [0, 1]), which it must not keep. */
export type TileModel = (tiles: Float32Array[], tile: number) => Promise<Float32Array[]>;

export interface TiledOptions {
  tile: number;
  /** Tiles per forward pass (default 4). */
  batch?: number;
  overlap?: number;
}

/** The tiling of a predict or eval call (tiled-predict.ts's tilingOf), here so that model-io.ts names it without a circle. */
export interface Tiling {
  tile: number;
  overlap: number;
  /** Images are run at their own size times this. */
  scale: number;
  batch: number;
}

/** The blended W x H logits of an image, `batch` tiles per call of `model`, tiles in raster order. */
export async function tiledLogits(image: RgbBytes, model: TileModel, o: TiledOptions): Promise<Float32Array> {
  const batch = o.batch ?? 4;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`tiles: bad batch ${batch}`);
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`tiles: ${image.data.length} bytes do not make a ${image.width}x${image.height} RGB image`);
  }
  const grid = tileGrid(image.width, image.height, o.tile, o.overlap);
  const out = new Float32Array(image.width * image.height);
  const columns = grid.x.starts.length;
  // The model must not keep the tiles it is given: their buffers are refilled for the next batch.
  const buffers = Array.from({ length: Math.min(batch, grid.count) }, () => new Float32Array(o.tile * o.tile * 3));
  for (let first = 0; first < grid.count; first += batch) {
    const indices = Array.from({ length: Math.min(batch, grid.count - first) }, (_, i) => first + i);
    const tiles = indices.map((k, i) => cutTile(image, grid.x.starts[k % columns]!, grid.y.starts[Math.floor(k / columns)]!, o.tile, buffers[i]));
    const logits = await model(tiles, o.tile);
    if (logits.length !== tiles.length) throw new Error(`tiles: the model gave ${logits.length} maps for ${tiles.length} tiles`);
    indices.forEach((k, i) => {
      if (logits[i]!.length !== o.tile * o.tile) throw new Error(`tiles: a map of ${logits[i]!.length} values for a ${o.tile}x${o.tile} tile`);
      blendTile(out, grid, k % columns, Math.floor(k / columns), logits[i]!);
    });
  }
  return out;
}
