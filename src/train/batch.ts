// Batches as METHOD.md describes them: annotated samples (the shots, and crop-and-paste samples made
// from them) and normal samples from train/good in every step. Host-side data preparation, like a data
// loader: each batch comes with its masks placed on the grid of the NBR layer's features and, for the
// pasted samples, the cells over which the similarity weight averages the features.
import { DIHEDRAL_COUNT, type PasteMode, applyDihedral, bytesToRgb, cropAndPaste, maxPoolMask } from '../data/index.js';
import { INPUT_CHANNELS } from '../model/unet.js';
import type { Rng } from '../util/random.js';
import { InputError } from '../util/errors.js';
import { packInput, packTurned } from './pack.js';

export { packInput, packTurned };

const RGB = 3;
/**
 * Of a batch's annotated slots, the share filled with crop-and-paste samples (ours: METHOD.md does not
 * say). The rest are real shots, so every batch holds at least one sample of weight 1.
 */
const PASTE_SHARE = 0.5;

/** An image (HWC RGB in [0,1]) and its mask (HW, 0/1), at the training size. */
export interface Sample {
  image: Float32Array;
  mask: Uint8Array;
}

export type SampleKind = 'shot' | 'pasted' | 'normal';

export interface BatchLayout {
  shots: number;
  pasted: number;
  normals: number;
}

/** How a batch of `batch` is filled: `normals` normal images, the annotated rest split by PASTE_SHARE. */
export function batchLayout(batch: number, normals: number, cropPaste: boolean): BatchLayout {
  const annotated = batch - normals;
  if (!Number.isInteger(normals) || normals < 0 || annotated < 1) {
    throw new InputError(`--normal-per-batch ${normals} leaves no annotated sample in a batch of ${batch}`);
  }
  const pasted = cropPaste ? Math.floor(annotated * PASTE_SHARE) : 0;
  return { shots: annotated - pasted, pasted, normals };
}

/** What the similarity weight of the pasted samples averages: one row per sample of the batch. */
export interface PasteRegions {
  /** [n, n * cells]: row i is the mean over the cells of pasted sample i's target (zero for others). */
  pasted: Float32Array;
  /** [n, n * cells]: row i is the mean over the same defect's cells in the shot it was cut from. */
  source: Float32Array;
  /** [n]: 1 for pasted samples. */
  isPasted: Float32Array;
  /** [n]: the weight of the samples that are not pasted (1 for shots, 0 for normal images). */
  fixedWeights: Float32Array;
  count: number;
}

export interface Batch {
  n: number;
  size: number;
  kinds: SampleKind[];
  /** [n, size, size, 4], ImageNet-normalised RGB and a zero channel. */
  input: Float32Array;
  /** [n, size, size]: 0/1; all zero for normal images. */
  target: Float32Array;
  /** [n]: the segmentation weight before similarity weighting: 1 for annotated samples, 0 for normal ones. */
  segWeights: Float32Array;
  /** [n]: 1 for normal images (the background term's samples). */
  normalWeights: Float32Array;
  normals: number;
  /** Side of the feature grid at the NBR layer. */
  grid: number;
  /** [n * grid * grid]: 1 for a cell with any defect pixel (the target max-pooled), else 0. */
  defectCells: Float32Array;
  /** [n * grid * grid]: 1 - defectCells. */
  normalCells: Float32Array;
  defectCellCount: number;
  normalCellCount: number;
  paste: PasteRegions | null;
}

export interface BatchOptions {
  size: number;
  layout: BatchLayout;
  /** Pixels per feature cell at the NBR layer (8 for layer2, 16 for layer3). */
  cellStride: number;
  paste: PasteMode;
}

/** Where a batch's images come from: the shots in memory, normal images by index (decoded bytes). */
export interface BatchSources {
  shots: Sample[];
  normalCount: number;
  normal(index: number): Promise<Uint8Array>;
}

/** Random choices of a batch, drawn before any image is awaited so that the draw order is fixed. */
interface Plan {
  shots: { shot: number; transform: number }[];
  pastes: { from: number; normal: number; transform: number }[];
  normals: { normal: number; transform: number }[];
}

function draw(r: Rng, count: number): number {
  return Math.min(count - 1, Math.floor(r() * count));
}

function plan(o: BatchOptions, sources: BatchSources, r: Rng): Plan {
  const { shots, pasted, normals } = o.layout;
  const dihedral = () => draw(r, DIHEDRAL_COUNT);
  return {
    shots: Array.from({ length: shots }, () => ({ shot: draw(r, sources.shots.length), transform: dihedral() })),
    pastes: Array.from({ length: pasted }, () => ({ from: draw(r, shots), normal: draw(r, sources.normalCount), transform: dihedral() })),
    normals: Array.from({ length: normals }, () => ({ normal: draw(r, sources.normalCount), transform: dihedral() })),
  };
}

/**
 * One batch: the shots (each flipped/rotated at random), then the crop-and-paste samples (a defect of
 * one of this batch's shots pasted onto a normal image), then the normal images (flipped/rotated).
 * The decoded normal images are awaited (a cache hit resolves at once); everything else is synchronous,
 * and each image is written into the batch in one pass.
 */
export async function makeBatch(o: BatchOptions, sources: BatchSources, r: Rng): Promise<Batch> {
  const { size } = o;
  const p = plan(o, sources, r);
  if ((p.pastes.length || p.normals.length) && sources.normalCount === 0) throw new InputError('no normal images to draw from');
  const normalBytes = await Promise.all([...p.pastes, ...p.normals].map((d) => sources.normal(d.normal)));
  const n = p.shots.length + p.pastes.length + p.normals.length;
  const input = new Float32Array(n * size * size * INPUT_CHANNELS);
  const masks: Uint8Array[] = [];
  const kinds: SampleKind[] = [];
  for (const [i, s] of p.shots.entries()) {
    const shot = sources.shots[s.shot]!;
    packTurned(input, i, shot.image, size, s.transform);
    masks.push(applyDihedral(shot.mask, size, 1, s.transform));
    kinds.push('shot');
  }
  // A shot slot's turned image, made only when a paste cuts from it.
  const turnedShots = new Map<number, Float32Array>();
  const turnedShot = (slot: number) => {
    const s = p.shots[slot]!;
    let image = turnedShots.get(slot);
    if (!image) turnedShots.set(slot, (image = applyDihedral(sources.shots[s.shot]!.image, size, RGB, s.transform)));
    return image;
  };
  const sourceMasks: PasteSource[] = [];
  p.pastes.forEach((d, k) => {
    const from = { image: turnedShot(d.from), mask: masks[d.from]! };
    // 'near' keeps the object's pose: the background turns as the shot did; 'anywhere' turns at random.
    const turn = o.paste === 'near' ? p.shots[d.from]!.transform : d.transform;
    const background = applyDihedral(bytesToRgb(normalBytes[k]!), size, RGB, turn);
    const pasted = cropAndPaste(from, background, size, o.paste, r);
    const slot = p.shots.length + k;
    if (pasted) {
      packTurned(input, slot, pasted.image, size, 0);
      masks.push(pasted.mask);
      sourceMasks.push({ from: d.from, mask: pasted.sourceMask });
      kinds.push('pasted');
    } else {
      // A shot without a defect (an empty mask) has nothing to paste: the slot takes the shot itself.
      packTurned(input, slot, from.image, size, 0);
      masks.push(from.mask);
      kinds.push('shot');
    }
  });
  const empty = new Uint8Array(size * size);
  p.normals.forEach((d, k) => {
    packTurned(input, p.shots.length + p.pastes.length + k, normalBytes[p.pastes.length + k]!, size, d.transform);
    masks.push(empty);
    kinds.push('normal');
  });
  return finishBatch(input, masks, kinds, sourceMasks, o);
}

/** Where a pasted sample's defect came from: the batch slot of its shot and the defect's pixels there. */
export interface PasteSource {
  from: number;
  mask: Uint8Array;
}

/**
 * A batch of samples at the training size: packed inputs, targets, cell masks, and for the pasted
 * samples (in order) the regions of their similarity weights. makeBatch's last step; tests build
 * batches with it too.
 */
export function batchFromSamples(samples: Sample[], kinds: SampleKind[], sourceMasks: PasteSource[], o: Pick<BatchOptions, 'size' | 'cellStride'>): Batch {
  const input = new Float32Array(samples.length * o.size * o.size * INPUT_CHANNELS);
  samples.forEach((s, i) => packInput(input, i, s.image, o.size));
  return finishBatch(input, samples.map((s) => s.mask), kinds, sourceMasks, o);
}

/** The rest of a batch from its packed input and its samples' masks: targets, cell masks, paste regions. */
function finishBatch(input: Float32Array, masks: Uint8Array[], kinds: SampleKind[], sourceMasks: PasteSource[], o: Pick<BatchOptions, 'size' | 'cellStride'>): Batch {
  const { size, cellStride } = o;
  const n = masks.length;
  const pixels = size * size;
  const grid = size / cellStride;
  const cells = grid * grid;
  const target = new Float32Array(n * pixels);
  const defectCells = new Float32Array(n * cells);
  masks.forEach((mask, i) => {
    target.set(mask, i * pixels);
    defectCells.set(maxPoolMask(mask, size, cellStride), i * cells);
  });
  const defectCellCount = defectCells.reduce((a, v) => a + v, 0);
  const isNormal = Float32Array.from(kinds, (k) => (k === 'normal' ? 1 : 0));
  return {
    n,
    size,
    kinds,
    input,
    target,
    segWeights: Float32Array.from(isNormal, (v) => 1 - v),
    normalWeights: isNormal,
    normals: kinds.filter((k) => k === 'normal').length,
    grid,
    defectCells,
    normalCells: Float32Array.from(defectCells, (v) => 1 - v),
    defectCellCount,
    normalCellCount: n * cells - defectCellCount,
    paste: sourceMasks.length ? pasteRegions(kinds, defectCells, sourceMasks, o) : null,
  };
}

/** The rows of the similarity weight's averages: each pasted defect where it is, and where it came from. */
function pasteRegions(kinds: SampleKind[], defectCells: Float32Array, sourceMasks: PasteSource[], o: Pick<BatchOptions, 'size' | 'cellStride'>): PasteRegions {
  const n = kinds.length;
  const cells = (o.size / o.cellStride) ** 2;
  const pasted = new Float32Array(n * n * cells);
  const source = new Float32Array(n * n * cells);
  let next = 0;
  kinds.forEach((k, i) => {
    if (k !== 'pasted') return;
    const own = defectCells.subarray(i * cells, (i + 1) * cells);
    const { from, mask } = sourceMasks[next++]!;
    writeMeanRow(pasted, i * n * cells + i * cells, own);
    writeMeanRow(source, i * n * cells + from * cells, maxPoolMask(mask, o.size, o.cellStride));
  });
  const isPasted = Float32Array.from(kinds, (k) => (k === 'pasted' ? 1 : 0));
  return { pasted, source, isPasted, fixedWeights: Float32Array.from(kinds, (k) => (k === 'shot' ? 1 : 0)), count: sourceMasks.length };
}

/** row[at + c] = 1 / |cells| for every set cell c: a row that averages the features over them. */
function writeMeanRow(matrix: Float32Array, at: number, cells: ArrayLike<number>): void {
  let count = 0;
  for (let c = 0; c < cells.length; c++) count += cells[c]! ? 1 : 0;
  if (count === 0) return;
  for (let c = 0; c < cells.length; c++) if (cells[c]) matrix[at + c] = 1 / count;
}

/** A batch of annotated samples already packed ([n, size, size, 4] input, [n, size, size] 0/1 target). */
export function packedBatch(input: Float32Array, target: Float32Array, size: number, cellStride: number): Batch {
  const pixels = size * size;
  const n = target.length / pixels;
  const cells = (size / cellStride) ** 2;
  const defectCells = new Float32Array(n * cells);
  for (let i = 0; i < n; i++) {
    const mask = Uint8Array.from(target.subarray(i * pixels, (i + 1) * pixels));
    defectCells.set(maxPoolMask(mask, size, cellStride), i * cells);
  }
  const defectCellCount = defectCells.reduce((a, v) => a + v, 0);
  return {
    n,
    size,
    kinds: new Array<SampleKind>(n).fill('shot'),
    input,
    target,
    segWeights: new Float32Array(n).fill(1),
    normalWeights: new Float32Array(n),
    normals: 0,
    grid: size / cellStride,
    defectCells,
    normalCells: Float32Array.from(defectCells, (v) => 1 - v),
    defectCellCount,
    normalCellCount: n * cells - defectCellCount,
    paste: null,
  };
}
