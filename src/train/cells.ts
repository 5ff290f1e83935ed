// The labels of the NBR layer's feature cells (one cell per cellStride x cellStride pixels), from a
// sample's mask. The paper's first reading ('any'): a cell with any defect pixel is a defect cell, every
// other cell a normal one. At stride 8 a 2-px scratch then makes a whole cell "defect", and the cells
// around it, which see the scratch through their receptive field, count as normal. 'fraction' (ours):
// a cell is a defect cell when at least DEFECT_CELL_FRACTION of its pixels are defect; a cell that a
// defect touches less than that, or that borders (8-neighbourhood) a touched cell, is in neither part.
import { maxPoolMask } from '../data/index.js';
import type { CellLabels } from '../run/options.js';

/** A cell is a defect cell at or above this share of defect pixels ('fraction' labels). */
export const DEFECT_CELL_FRACTION = 0.5;

/** A sample's cells: 1 for defect cells, 1 for normal cells (never both; with 'fraction', possibly neither). */
export interface CellMasks {
  defect: Uint8Array;
  normal: Uint8Array;
}

/** The share of defect pixels in each cell of a size x size 0/1 mask. */
export function cellFractions(mask: Uint8Array, size: number, stride: number): Float64Array {
  const grid = size / stride;
  const out = new Float64Array(grid * grid);
  for (let y = 0; y < size; y++) {
    const row = Math.floor(y / stride) * grid;
    for (let x = 0; x < size; x++) if (mask[y * size + x]) out[row + Math.floor(x / stride)]! += 1;
  }
  const area = stride * stride;
  for (let c = 0; c < out.length; c++) out[c]! /= area;
  return out;
}

export function cellMasks(mask: Uint8Array, size: number, stride: number, labels: CellLabels): CellMasks {
  const touched = maxPoolMask(mask, size, stride);
  if (labels === 'any') return { defect: touched, normal: touched.map((v) => 1 - v) };
  const grid = size / stride;
  const fractions = cellFractions(mask, size, stride);
  const defect = Uint8Array.from(fractions, (f) => (f >= DEFECT_CELL_FRACTION ? 1 : 0));
  const normal = new Uint8Array(grid * grid);
  for (let y = 0; y < grid; y++) {
    for (let x = 0; x < grid; x++) {
      let near = false;
      for (let dy = -1; dy <= 1 && !near; dy++) {
        for (let dx = -1; dx <= 1 && !near; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          near = yy >= 0 && yy < grid && xx >= 0 && xx < grid && touched[yy * grid + xx] === 1;
        }
      }
      normal[y * grid + x] = near ? 0 : 1;
    }
  }
  return { defect, normal };
}

/** What the similarity weight of the pasted samples averages: one row per sample of the batch. */
export interface PasteRegions {
  /** [n, n * cells]: row i is the mean over the cells of pasted sample i's target (zero for others). */
  pasted: Float32Array;
  /** [n, n * cells]: row i is the mean over the same defect's cells in the shot it was cut from. */
  source: Float32Array;
  /** [n]: 1 for pasted samples. */
  isPasted: Float32Array;
  /** [n]: the weight of the samples that are not pasted (1 for annotated ones, 0 for normal images). */
  fixedWeights: Float32Array;
  count: number;
}

/** Where a pasted sample's defect came from: the batch slot of its shot and the defect's pixels there. */
export interface PasteSource {
  from: number;
  mask: Uint8Array;
}

/**
 * The rows of the similarity weight's averages: each pasted defect where it is, and where it came from,
 * over every cell the defect touches (`touched`: the masks max-pooled, whatever the NBR term's labels).
 */
export function pasteRegions(kinds: string[], touched: Float32Array, sourceMasks: PasteSource[], o: { size: number; cellStride: number }): PasteRegions {
  const n = kinds.length;
  const cells = (o.size / o.cellStride) ** 2;
  const pasted = new Float32Array(n * n * cells);
  const source = new Float32Array(n * n * cells);
  let next = 0;
  kinds.forEach((k, i) => {
    if (k !== 'pasted') return;
    const own = touched.subarray(i * cells, (i + 1) * cells);
    const { from, mask } = sourceMasks[next++]!;
    writeMeanRow(pasted, i * n * cells + i * cells, own);
    writeMeanRow(source, i * n * cells + from * cells, maxPoolMask(mask, o.size, o.cellStride));
  });
  const isPasted = Float32Array.from(kinds, (k) => (k === 'pasted' ? 1 : 0));
  const fixedWeights = Float32Array.from(kinds, (k) => (k === 'shot' || k === 'synthetic' ? 1 : 0));
  return { pasted, source, isPasted, fixedWeights, count: sourceMasks.length };
}

/** row[at + c] = 1 / |cells| for every set cell c: a row that averages the features over them. */
function writeMeanRow(matrix: Float32Array, at: number, cells: ArrayLike<number>): void {
  let count = 0;
  for (let c = 0; c < cells.length; c++) count += cells[c]! ? 1 : 0;
  if (count === 0) return;
  for (let c = 0; c < cells.length; c++) if (cells[c]) matrix[at + c] = 1 / count;
}

/** How many cells a 0/1 cell mask selects. */
export const cellCount = (cells: Float32Array): number => cells.reduce((a, v) => a + v, 0);
