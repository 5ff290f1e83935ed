// The losses of METHOD.md, composed from tested ops (each gets its gradient from the tape):
//   L = L_seg + lambda_bg * L_bg + lambda_feat * L_feat
// L_seg: BCE with logits over the annotated samples, each weighted (1 for shots, the clamped feature
// similarity for crop-and-paste samples); L_bg: BCE of the normal images against an all-zero mask;
// L_feat: normal cells pulled towards their (detached) mean direction, defect cells pushed away from it.
import { F, Tensor, noGrad } from '../autograd/index.js';
import type { Backend } from '../backend/backend.js';
import type { Batch } from './batch.js';
import type { BgLoss, LossKind } from '../run/options.js';

/** A defect cell is penalised while the cosine to the normal centre exceeds this (METHOD.md). */
export const FEATURE_MARGIN = 0.5;
/** With --bg-loss hinge: normal pixels below this probability cost nothing (ours). */
export const HINGE_PROBABILITY = 0.1;
/** The smooth term of the soft Dice loss: keeps it defined on empty masks. */
const DICE_SMOOTH = 1;

export interface LossConfig {
  loss: LossKind;
  /** The NBR terms (background and feature); off for the baseline and crop-and-paste-only variants. */
  nbr: boolean;
  lambdaBg: number;
  /** The feature term's weight at this step (a ramp-up makes it change from step to step). */
  lambdaFeat: number;
  bgLoss?: BgLoss;
  /** With bgLoss 'hard': the share of each normal image's pixels, the largest logits, that the term averages. */
  bgTop?: number;
}

/** A batch's targets, weights and cell masks on the device. */
export interface DeviceBatch<S = unknown> {
  /** Samples with a segmentation target (shots, pasted, synthetic). */
  annotated: number;
  input: Tensor<S>;
  target: Tensor<S>;
  segWeights: Tensor<S>;
  normalWeights: Tensor<S> | null;
  /** [N, 1] over the N = n * grid * grid cells of the NBR layer. */
  defectCells: Tensor<S>;
  normalCells: Tensor<S>;
  defectCellCount: number;
  normalCellCount: number;
  paste: { pasted: Tensor<S>; source: Tensor<S>; isPasted: Tensor<S>; fixedWeights: Tensor<S>; count: number } | null;
}

export function uploadBatch<S>(be: Backend<S>, b: Batch): DeviceBatch<S> {
  const cells = b.defectCells.length;
  const n = b.n;
  const p = b.paste;
  return {
    annotated: b.n - b.normals,
    input: Tensor.from(be, b.input, [n, b.size, b.size, b.input.length / (n * b.size * b.size)]),
    target: Tensor.from(be, b.target, [n, b.size, b.size, 1]),
    segWeights: Tensor.from(be, b.segWeights, [n]),
    normalWeights: b.normals > 0 ? Tensor.from(be, b.normalWeights, [n]) : null,
    defectCells: Tensor.from(be, b.defectCells, [cells, 1]),
    normalCells: Tensor.from(be, b.normalCells, [cells, 1]),
    defectCellCount: b.defectCellCount,
    normalCellCount: b.normalCellCount,
    paste: p
      ? {
          pasted: Tensor.from(be, p.pasted, [n, cells]),
          source: Tensor.from(be, p.source, [n, cells]),
          isPasted: Tensor.from(be, p.isPasted, [n]),
          fixedWeights: Tensor.from(be, p.fixedWeights, [n]),
          count: p.count,
        }
      : null,
  };
}

/** Each row of [rows, c] features as a unit vector. */
function unitRows<S>(features: Tensor<S>): Tensor<S> {
  const c = features.shape[features.shape.length - 1]!;
  return F.l2Normalize(features.reshape([features.size / c, c]));
}

type CellPart<S> = { features: Tensor<S>; b: Pick<DeviceBatch<S>, 'defectCells' | 'normalCells' | 'defectCellCount' | 'normalCellCount'> };

/** sum over the parts of sum(values(part) * mask(part)) / count, or null when the masks select no cell. */
/** The elementwise sum of one or more tensors of one shape. */
const sumOf = <S>(ts: Tensor<S>[]): Tensor<S> => ts.slice(1).reduce((a, v) => F.add(a, v), ts[0]!);

function partsMean<S>(parts: { values: Tensor<S>; mask: Tensor<S> }[], count: number): Tensor<S> | null {
  if (count === 0) return null;
  return F.scale(sumOf(parts.map((p) => F.sum(F.mul(p.values, p.mask)))), 1 / count);
}

/**
 * L_feat on the features [n, g, g, C] of the NBR layer of one or more parts of a batch (two when the
 * normal images go through the network apart), with f the unit feature vector of a cell and c the unit
 * mean of the normal cells' f over all parts, detached (with a gradient through c the term would reward
 * collapse): mean over normal cells of ||f - c||^2 + mean over defect cells of max(0, cos(f, c) - margin).
 * A batch without defect cells has no second part; without normal cells, no first part and c = 0.
 */
function featureLoss<S>(parts: CellPart<S>[]): Tensor<S> {
  const be = parts[0]!.features.backend;
  const fs = parts.map((p) => unitRows(p.features));
  const centre = noGrad(() => {
    return F.l2Normalize(sumOf(fs.map((f, i) => F.sum(F.mul(f, parts[i]!.b.normalCells), [0], true))));
  });
  const count = (key: 'defectCellCount' | 'normalCellCount') => parts.reduce((a, p) => a + p.b[key], 0);
  const terms: Tensor<S>[] = [];
  const pull = partsMean(fs.map((f, i) => {
    const toCentre = F.sub(f, centre);
    return { values: F.sum(F.mul(toCentre, toCentre), [1], true), mask: parts[i]!.b.normalCells };
  }), count('normalCellCount'));
  if (pull) terms.push(pull);
  const margin = Tensor.full(be, [], FEATURE_MARGIN);
  const push = partsMean(fs.map((f, i) => ({ values: F.relu(F.sub(F.sum(F.mul(f, centre), [1], true), margin)), mask: parts[i]!.b.defectCells })), count('defectCellCount'));
  if (push) terms.push(push);
  return terms.length === 2 ? F.add(terms[0]!, terms[1]!) : (terms[0] ?? Tensor.full(be, [], 0));
}

/**
 * The background term: BCE of the logits [n, s, s, 1] against the all-zero targets of the normal images
 * (`normalWeights` 1). 'mean' averages every pixel of them; 'hard' only the largest `top` share of each
 * image's logits (BCE against 0 grows with the logit, so these are the hardest pixels), chosen without
 * gradient and exactly as many per image.
 */
function backgroundLoss<S>(logits: Tensor<S>, target: Tensor<S>, normalWeights: Tensor<S>, kind: BgLoss, top: number): Tensor<S> {
  if (kind === 'mean') return F.sigmoidBce(logits, target, normalWeights);
  const n = logits.shape[0]!;
  const pixels = logits.size / n;
  if (kind === 'hinge') return hingeBackground(logits.reshape([n, pixels]), normalWeights);
  const k = Math.min(pixels, Math.max(1, Math.round(top * pixels)));
  const rows = logits.reshape([n, pixels]);
  const weights = noGrad(() => F.mul(F.topkMask(rows, k), normalWeights.reshape([n, 1])));
  return F.sigmoidBce(logits.reshape([n * pixels, 1]), target.reshape([n * pixels, 1]), weights.reshape([n * pixels]));
}

/**
 * The hinge background term of rows [n, pixels]: mean over the normal rows (`normalWeights` 1, others 0)
 * of each row's mean of relu(logit - logit(HINGE_PROBABILITY)). A pixel the network already scores below
 * that probability costs nothing and pulls nothing, so the term lowers only what rises above it, where
 * 'mean' pulls every pixel of the image down (docs/results.md, issue 24's third round).
 */
export function hingeBackground<S>(rows: Tensor<S>, normalWeights: Tensor<S>): Tensor<S> {
  const be = rows.backend;
  const margin = Tensor.full(be, [], Math.log(HINGE_PROBABILITY / (1 - HINGE_PROBABILITY)));
  const perRow = F.mean(F.relu(F.sub(rows, margin)), [1]);
  return F.div(F.sum(F.mul(perRow, normalWeights)), F.sum(normalWeights));
}

/**
 * The crop-and-paste weights, without gradient: w = clamp(cos(mean feature over the pasted defect,
 * mean feature over the same defect in its shot), 0, 1) for pasted samples, the fixed weight for the
 * others. Returns the weights [n] and their mean over the pasted samples [].
 */
export function pasteWeights<S>(features: Tensor<S>, paste: NonNullable<DeviceBatch<S>['paste']>): { weights: Tensor<S>; mean: Tensor<S> } {
  return noGrad(() => {
    const c = features.shape[features.shape.length - 1]!;
    const cells = features.reshape([features.size / c, c]);
    const pasted = F.l2Normalize(F.matmul(paste.pasted, cells));
    const source = F.l2Normalize(F.matmul(paste.source, cells));
    const cosine = F.sum(F.mul(pasted, source), [1]);
    // clamp(x, 0, 1) = relu(x) - relu(x - 1): rounding can take the cosine of equal vectors past 1.
    const clamped = F.sub(F.relu(cosine), F.relu(F.sub(cosine, Tensor.full(features.backend, [], 1))));
    const own = F.mul(clamped, paste.isPasted);
    return { weights: F.add(paste.fixedWeights, own), mean: F.scale(F.sum(own), 1 / paste.count) };
  });
}

export interface LossTerms<S = unknown> {
  total: Tensor<S>;
  seg: Tensor<S>;
  bg: Tensor<S> | null;
  feat: Tensor<S> | null;
  /** Mean weight of the pasted samples (1 while weighting is off); null without pasted samples. */
  pasteWeight: Tensor<S> | null;
}

/** One forward pass's share of a batch: its logits [n, s, s, 1], its features at the NBR layer, its data. */
export interface LossPart<S = unknown> {
  logits: Tensor<S>;
  features: Tensor<S>;
  b: DeviceBatch<S>;
}

/**
 * The whole loss of one batch from its parts: one part (the batch through the network at once), or the
 * annotated samples and the normal images apart (so that the normal images do not shift the annotated
 * samples' batch statistics). `weighting`: whether pasted samples get their similarity weight (else 1,
 * as in the first 10% of steps).
 */
export function methodLoss<S>(parts: LossPart<S>[], cfg: LossConfig, weighting: boolean): LossTerms<S> {
  const be = parts[0]!.logits.backend;
  let seg: Tensor<S> | null = null;
  let pasteWeight: Tensor<S> | null = null;
  let bg: Tensor<S> | null = null;
  for (const { logits, features, b } of parts) {
    if (b.annotated > 0) {
      let segWeights = b.segWeights;
      pasteWeight = b.paste ? Tensor.full(be, [], 1) : null;
      if (b.paste && weighting) {
        const w = pasteWeights(features, b.paste);
        segWeights = w.weights;
        pasteWeight = w.mean;
      }
      seg = segmentationLoss(logits, b.target, segWeights, cfg.loss);
    }
    // Normal images' targets are all zero already: the same BCE, weighted onto them.
    if (cfg.nbr && b.normalWeights) bg = backgroundLoss(logits, b.target, b.normalWeights, cfg.bgLoss ?? 'mean', cfg.bgTop ?? 1);
  }
  if (!seg) throw new Error('methodLoss: a batch without annotated samples');
  let total = seg;
  if (bg) total = F.add(total, F.scale(bg, cfg.lambdaBg));
  let feat: Tensor<S> | null = null;
  // At weight 0 (nofeat, or the first step of a ramp-up) the term would only cost dispatches.
  if (cfg.nbr && cfg.lambdaFeat > 0) {
    feat = featureLoss(parts);
    total = F.add(total, F.scale(feat, cfg.lambdaFeat));
  }
  return { total, seg, bg, feat, pasteWeight };
}

/** Weighted BCE with logits, plus soft Dice over the batch when asked. */
export function segmentationLoss<S>(logits: Tensor<S>, target: Tensor<S>, weights: Tensor<S>, kind: LossKind): Tensor<S> {
  const bce = F.sigmoidBce(logits, target, weights);
  if (kind === 'bce') return bce;
  const be = logits.backend;
  const p = F.sigmoid(logits);
  const smooth = Tensor.full(be, [], DICE_SMOOTH);
  const intersection = F.scale(F.sum(F.mul(p, target)), 2);
  const total = F.add(F.sum(p), F.sum(target));
  const dice = F.div(F.add(intersection, smooth), F.add(total, smooth));
  // bce + (1 - dice), written as (bce + 1) - dice.
  return F.sub(F.add(bce, Tensor.full(be, [], 1)), dice);
}

/** The loss terms in one tensor [5]: total, seg, bg, feat, paste weight (0 where absent), one readback. */
export function packTerms<S>(t: LossTerms<S>): Tensor<S> {
  return noGrad(() => {
    const be = t.total.backend;
    const scalars = [t.total, t.seg, t.bg, t.feat, t.pasteWeight].map((v) => (v ?? Tensor.full(be, [], 0)).reshape([1, 1, 1, 1]));
    return scalars.slice(1).reduce((acc, s) => F.concat(acc, s), scalars[0]!).reshape([scalars.length]);
  });
}
