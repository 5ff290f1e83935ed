// Batches as METHOD.md describes them: annotated samples (the shots, and crop-and-paste samples made
// from them) and normal samples from train/good in every step. Host-side data preparation, like a data
// loader: each batch comes with its masks placed on the grid of the NBR layer's features and, for the
// pasted samples, the cells over which the similarity weight averages the features.
import { DIHEDRAL_COUNT, type PasteMode, applyDihedral, bytesToRgb, cropAndPaste, maxPoolMask, syntheticAnomaly } from '../data/index.js';
import { INPUT_CHANNELS } from '../model/unet.js';
import type { Rng } from '../util/random.js';
import { InputError } from '../util/errors.js';
import { type PasteRegions, type PasteSource, cellCount, cellMasks, pasteRegions } from './cells.js';
import type { CellLabels, PasteSlots } from '../run/options.js';
import { packInput, packTurned } from '../evaluate/pack.js';

export { packInput, packTurned, type PasteRegions, type PasteSource };

const RGB = 3;
/**
 * Of a batch's annotated slots, the share filled with crop-and-paste samples (ours: METHOD.md does not
 * say). The rest are real shots, so every batch holds at least one sample of weight 1.
 */
const PASTE_SHARE = 0.5;
/** A synthetic anomaly covers this share of the image, at least and at most (ours). */
export const SYNTHETIC_AREA = { min: 0.002, max: 0.03 } as const;

/** An image (HWC RGB in [0,1]) and its mask (HW, 0/1), at the training size. */
export interface Sample {
  image: Float32Array;
  mask: Uint8Array;
}

export type SampleKind = 'shot' | 'pasted' | 'synthetic' | 'normal';

export interface BatchLayout {
  shots: number;
  pasted: number;
  /** Normal images with a synthetic anomaly, annotated by construction (on top of the batch). */
  synthetic: number;
  normals: number;
}

/**
 * How a batch is filled (METHOD.md, revised): `batch` annotated slots, as many as the shots-only
 * baseline's whole batch, shared between shots and crop-and-paste samples by PASTE_SHARE (or, with
 * `pasteSlots` 'extra' (ours), all shots, with as many crop-and-paste samples again on top); then
 * `synthetic` normal images with synthetic anomalies and `normals` normal images, on top.
 */
export function batchLayout(batch: number, normals: number, cropPaste: boolean, synthetic = 0, pasteSlots: PasteSlots = 'shared'): BatchLayout {
  for (const [flag, v] of [['--normal-per-batch', normals], ['--synthetic', synthetic]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InputError(`${flag} must be a non-negative integer, got ${v}`);
  }
  if (!Number.isInteger(batch) || batch < 1) throw new InputError(`--batch must be a positive integer, got ${batch}`);
  const pasted = cropPaste ? Math.floor(batch * PASTE_SHARE) : 0;
  if (pasteSlots === 'extra') return { shots: batch, pasted, synthetic, normals };
  return { shots: batch - pasted, pasted, synthetic, normals };
}

/** Samples in a batch of this layout. */
export const layoutSize = (l: BatchLayout): number => l.shots + l.pasted + l.synthetic + l.normals;

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
  /** [n * grid * grid]: 1 for the feature term's defect cells (cells.ts: by the batch's cell labels). */
  defectCells: Float32Array;
  /** [n * grid * grid]: 1 for its normal cells (with 'any' labels 1 - defectCells; else maybe neither). */
  normalCells: Float32Array;
  defectCellCount: number;
  normalCellCount: number;
  paste: PasteRegions | null;
}

/** What the cell labels of a batch depend on. */
export interface CellOptions {
  size: number;
  /** Pixels per feature cell at the NBR layer (8 for layer2, 16 for layer3). */
  cellStride: number;
  /** How cells are labelled for the feature term (default 'any': the paper's first reading). */
  cellLabels?: CellLabels;
}

export interface BatchOptions extends CellOptions {
  layout: BatchLayout;
  paste: PasteMode;
}

/** Where a batch's images come from: the shots in memory, normal images by index (decoded bytes). */
export interface BatchSources {
  shots: Sample[];
  normalCount: number;
  normal(index: number): Promise<Uint8Array>;
  /** Training on tiles (tile-samples.ts): shots and normal images cut where a draw says, instead of the two above. */
  tiles?: TileSources;
}

/** Samples cut from larger images; where is drawn with the batch's other choices (nothing drawn without tiles). */
export interface TileSources {
  shotCount: number;
  drawShot(r: Rng): readonly number[];
  drawNormal(r: Rng): readonly number[];
  shot(index: number, at: readonly number[]): Sample;
  normal(index: number, at: readonly number[]): Promise<Uint8Array>;
}

/** Random choices of a batch, drawn before any image is awaited so that the draw order is fixed. */
type At = readonly number[] | undefined;
interface Plan {
  shots: { shot: number; transform: number; at: At }[];
  pastes: { from: number; normal: number; transform: number; at: At }[];
  synthetic: { normal: number; fill: number; transform: number; at: At; fillAt: At }[];
  normals: { normal: number; transform: number; at: At }[];
}

function draw(r: Rng, count: number): number {
  return Math.min(count - 1, Math.floor(r() * count));
}

function plan(o: BatchOptions, sources: BatchSources, r: Rng): Plan {
  const { shots, pasted, synthetic, normals } = o.layout;
  const dihedral = () => draw(r, DIHEDRAL_COUNT);
  const normal = () => draw(r, sources.normalCount);
  const tiles = sources.tiles;
  // Properties are evaluated in order: the tile draws follow each sample's other draws.
  const shotAt = () => tiles?.drawShot(r);
  const normalAt = () => tiles?.drawNormal(r);
  return {
    shots: Array.from({ length: shots }, () => ({ shot: draw(r, tiles?.shotCount ?? sources.shots.length), transform: dihedral(), at: shotAt() })),
    pastes: Array.from({ length: pasted }, () => ({ from: draw(r, shots), normal: normal(), transform: dihedral(), at: normalAt() })),
    synthetic: Array.from({ length: synthetic }, () => ({ normal: normal(), fill: normal(), transform: dihedral(), at: normalAt(), fillAt: normalAt() })),
    normals: Array.from({ length: normals }, () => ({ normal: normal(), transform: dihedral(), at: normalAt() })),
  };
}

/**
 * One batch: the shots (each flipped/rotated at random), then the crop-and-paste samples (a defect of
 * one of this batch's shots pasted onto a normal image), then the synthetic anomalies (a normal image
 * with a shape of smooth noise filled from another one), then the normal images (flipped/rotated).
 * The decoded normal images are awaited (a cache hit resolves at once); everything else is synchronous,
 * and each image is written into the batch in one pass.
 */
export async function makeBatch(o: BatchOptions, sources: BatchSources, r: Rng): Promise<Batch> {
  const { size } = o;
  const p = plan(o, sources, r);
  if ((p.pastes.length || p.synthetic.length || p.normals.length) && sources.normalCount === 0) throw new InputError('no normal images to draw from');
  const tiles = sources.tiles;
  const normalOf = (index: number, at: At) => (tiles ? tiles.normal(index, at!) : sources.normal(index));
  const normalBytes = await Promise.all([...p.pastes, ...p.synthetic, ...p.normals].map((d) => normalOf(d.normal, d.at)));
  const fillBytes = await Promise.all(p.synthetic.map((d) => normalOf(d.fill, d.fillAt)));
  const shotSamples = p.shots.map((s) => (tiles ? tiles.shot(s.shot, s.at!) : sources.shots[s.shot]!));
  const n = p.shots.length + p.pastes.length + p.synthetic.length + p.normals.length;
  const input = new Float32Array(n * size * size * INPUT_CHANNELS);
  const masks: Uint8Array[] = [];
  const kinds: SampleKind[] = [];
  for (const [i, s] of p.shots.entries()) {
    const shot = shotSamples[i]!;
    packTurned(input, i, shot.image, size, s.transform);
    masks.push(applyDihedral(shot.mask, size, 1, s.transform));
    kinds.push('shot');
  }
  // A shot slot's turned image, made only when a paste cuts from it.
  const turnedShots = new Map<number, Float32Array>();
  const turnedShot = (slot: number) => {
    const s = p.shots[slot]!;
    let image = turnedShots.get(slot);
    if (!image) turnedShots.set(slot, (image = applyDihedral(shotSamples[slot]!.image, size, RGB, s.transform)));
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
  const annotated = p.shots.length + p.pastes.length;
  p.synthetic.forEach((d, k) => {
    const normal = applyDihedral(bytesToRgb(normalBytes[p.pastes.length + k]!), size, RGB, d.transform);
    const made = syntheticAnomaly(normal, bytesToRgb(fillBytes[k]!), { size, minArea: SYNTHETIC_AREA.min, maxArea: SYNTHETIC_AREA.max }, r);
    packTurned(input, annotated + k, made.image, size, 0);
    masks.push(made.mask);
    kinds.push('synthetic');
  });
  const empty = new Uint8Array(size * size);
  const before = p.pastes.length + p.synthetic.length;
  p.normals.forEach((d, k) => {
    packTurned(input, annotated + p.synthetic.length + k, normalBytes[before + k]!, size, d.transform);
    masks.push(empty);
    kinds.push('normal');
  });
  return finishBatch(input, masks, kinds, sourceMasks, o);
}

/**
 * A batch of samples at the training size: packed inputs, targets, cell masks, and for the pasted
 * samples (in order) the regions of their similarity weights. makeBatch's last step; tests build
 * batches with it too.
 */
export function batchFromSamples(samples: Sample[], kinds: SampleKind[], sourceMasks: PasteSource[], o: CellOptions): Batch {
  const input = new Float32Array(samples.length * o.size * o.size * INPUT_CHANNELS);
  samples.forEach((s, i) => packInput(input, i, s.image, o.size));
  return finishBatch(input, samples.map((s) => s.mask), kinds, sourceMasks, o);
}

/** The rest of a batch from its packed input and its samples' masks: targets, cell masks, paste regions. */
function finishBatch(input: Float32Array, masks: Uint8Array[], kinds: SampleKind[], sourceMasks: PasteSource[], o: CellOptions): Batch {
  const { size, cellStride } = o;
  const n = masks.length;
  const pixels = size * size;
  const grid = size / cellStride;
  const cells = grid * grid;
  const target = new Float32Array(n * pixels);
  const defectCells = new Float32Array(n * cells);
  const normalCells = new Float32Array(n * cells);
  const touchedCells = new Float32Array(n * cells);
  masks.forEach((mask, i) => {
    target.set(mask, i * pixels);
    const c = cellMasks(mask, size, cellStride, o.cellLabels ?? 'any');
    defectCells.set(c.defect, i * cells);
    normalCells.set(c.normal, i * cells);
    touchedCells.set(maxPoolMask(mask, size, cellStride), i * cells);
  });
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
    normalCells,
    defectCellCount: cellCount(defectCells),
    normalCellCount: cellCount(normalCells),
    paste: sourceMasks.length ? pasteRegions(kinds, touchedCells, sourceMasks, o) : null,
  };
}


/** A batch of annotated samples already packed ([n, size, size, 4] input, [n, size, size] 0/1 target). */
export function packedBatch(input: Float32Array, target: Float32Array, size: number, cellStride: number): Batch {
  const pixels = size * size;
  const n = target.length / pixels;
  const masks = Array.from({ length: n }, (_, i) => Uint8Array.from(target.subarray(i * pixels, (i + 1) * pixels)));
  return finishBatch(input, masks, new Array<SampleKind>(n).fill('shot'), [], { size, cellStride });
}
