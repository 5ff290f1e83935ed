// What a run's options make of each step's loss: the step configuration, and the feature term's weight
// at a step (a linear ramp-up over the first --feat-rampup share of the steps), the background term's
// (0 before --bg-start).
import type { BatchLayout } from './batch.js';
import type { ResolvedOptions } from '../run/options.js';
import type { StepConfig } from './step.js';

export function stepConfig(o: ResolvedOptions): StepConfig {
  return {
    loss: o.loss,
    nbr: o.nbr,
    lambdaBg: o.lambdaBg,
    lambdaFeat: o.lambdaFeat,
    bgLoss: o.bgLoss,
    bgTop: o.bgTop,
    nbrLayer: o.nbrLayer,
    nbrFeatures: o.nbrFeatures,
    normalBn: o.normalBn,
  };
}

/** lambda_feat at step `step` (0-based): o.lambdaFeat * min(1, (step + 1) / (featRampup * steps)). */
export function featWeight(o: Pick<ResolvedOptions, 'lambdaFeat' | 'featRampup' | 'steps'>, step: number): number {
  const rampSteps = o.featRampup * o.steps;
  if (!(rampSteps > 0)) return o.lambdaFeat;
  return o.lambdaFeat * Math.min(1, (step + 1) / rampSteps);
}

/** lambda_bg at step `step` (0-based): 0 before the first round(bgStart * steps) steps, then o.lambdaBg. */
export function bgWeight(o: Pick<ResolvedOptions, 'lambdaBg' | 'bgStart' | 'steps'>, step: number): number {
  return step < Math.round(o.bgStart * o.steps) ? 0 : o.lambdaBg;
}

/** Steps of the synthetic first phase: the first round(syntheticPhase * steps). */
export function syntheticPhaseSteps(o: Pick<ResolvedOptions, 'syntheticPhase' | 'steps'>): number {
  return Math.round(o.syntheticPhase * o.steps);
}

/**
 * The batch layout of step `step`: during the synthetic phase every annotated slot (shots, pastes and
 * synthetic samples alike) holds a synthetic anomaly, so the batch keeps its size and its normal images;
 * afterwards the run's layout.
 */
export function layoutAt(layout: BatchLayout, step: number, phaseSteps: number): BatchLayout {
  if (step >= phaseSteps) return layout;
  return { shots: 0, pasted: 0, synthetic: layout.shots + layout.pasted + layout.synthetic, normals: layout.normals };
}
