// One training step: forward, loss, backward and Adam recorded into one scope, and its packed loss
// terms read back. Apart from the loop (loop.ts), so that bench and tests record steps without it.
import { scope } from '../autograd/index.js';
import type { Unet } from '../model/unet.js';
import type { Batch } from './batch.js';
import { splitBatch } from './batch-split.js';
import { type LossConfig, type LossPart, methodLoss, packTerms, uploadBatch } from './losses.js';
import type { Adam } from './optimizer.js';
import type { NbrFeatures, NbrLayer, NormalBn } from '../run/options.js';

export interface StepConfig extends LossConfig {
  nbrLayer: NbrLayer;
  nbrFeatures?: NbrFeatures;
  normalBn?: NormalBn;
}

/** The loss terms of one step as read back: null where a term is off or has no sample in the batch. */
export interface StepTerms {
  loss: number;
  seg: number;
  bg: number | null;
  feat: number | null;
  pasteWeight: number | null;
}

/**
 * One training step, recorded and submitted: forward, loss, backward, Adam. Returns the packed loss
 * terms (see packTerms) as a promise that settles when the GPU has finished the step; the host does
 * not wait for it here. `weighting`: whether pasted samples get their similarity weights this step.
 */
export function recordTrainStep<S>(model: Unet<S>, opt: Adam<S>, batch: Batch, cfg: StepConfig, lr: number, weighting: boolean): Promise<Float64Array> {
  return scope(() => {
    const pre = cfg.nbrFeatures === 'pre';
    const pieces = cfg.normalBn === 'separate' ? splitBatch(batch) : [batch];
    const parts = pieces.map((piece): LossPart<S> => {
      const b = uploadBatch(opt.backend, piece);
      const out = model.forwardWithFeatures(b.input, pre ? cfg.nbrLayer : null);
      return { logits: out.logits, features: pre ? out.pre! : out.features[cfg.nbrLayer]!, b };
    });
    const terms = methodLoss(parts, cfg, weighting);
    terms.total.backward();
    opt.update(lr);
    // Records the copy of the terms and submits the step; the values arrive later.
    return { value: packTerms(terms).toArray() };
  }).value;
}

/** What of a batch decides which loss terms it has. */
export interface BatchShape {
  normals: number;
  pasted: boolean;
}

/** The packed terms with null for those the configuration or the batch left out. */
export function readTerms(packed: Float64Array, batch: BatchShape, cfg: LossConfig): StepTerms {
  return {
    loss: packed[0]!,
    seg: packed[1]!,
    bg: cfg.nbr && batch.normals > 0 ? packed[2]! : null,
    feat: cfg.nbr && cfg.lambdaFeat > 0 ? packed[3]! : null,
    pasteWeight: batch.pasted ? packed[4]! : null,
  };
}
