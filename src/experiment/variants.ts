// The ablations of METHOD.md: a base variant (a setting of the method's three switches), optionally
// followed by '+'-joined modifiers that set one of the method's other parts each, so that every part
// can be measured on its own and in combination: `full+pre+hard` is the full method with pre-activation
// features and hard-negative background mining.
import type { TrainOptions } from '../run/options.js';

export const VARIANTS = {
  /** The shots alone. */
  baseline: { nbr: false, cropPaste: false, weighting: false },
  /** + the NBR loss (normal images in every batch). */
  nbr: { nbr: true, cropPaste: false, weighting: false },
  /** + crop-and-paste samples, unweighted. */
  cp: { nbr: false, cropPaste: true, weighting: false },
  /** + crop-and-paste samples with their similarity weights. */
  cpw: { nbr: false, cropPaste: true, weighting: true },
  /** The full method. */
  full: { nbr: true, cropPaste: true, weighting: true },
} as const;

type MethodOptions = Pick<TrainOptions, 'nbrFeatures' | 'cellLabels' | 'featRampup' | 'bgStart' | 'bgLoss' | 'normalBn' | 'synthetic' | 'syntheticPhase' | 'paste' | 'pasteSlots' | 'lambdaFeat'>;

/** The modifiers, in pairs that set a part on and back to the paper's first reading. */
export const MODIFIERS: Record<string, MethodOptions> = {
  /** The feature term and paste weights on pre-activation features. */
  pre: { nbrFeatures: 'pre' },
  relu: { nbrFeatures: 'relu' },
  /** Cells labelled by defect fraction, those beside a defect left out. */
  fraction: { cellLabels: 'fraction' },
  anycell: { cellLabels: 'any' },
  /** lambda_feat ramped up over the first 30% of the steps. */
  ramp: { featRampup: 0.3 },
  noramp: { featRampup: 0 },
  /** The background term from two thirds of the steps on, once the shots are learned (--bg-start, ours). */
  late: { bgStart: 2 / 3 },
  nolate: { bgStart: 0 },
  /** The background term on each normal image's hardest pixels (--bg-top). */
  hard: { bgLoss: 'hard' },
  /** The background term only on normal pixels above probability 0.1, by how far (a hinge on the logit). */
  hinge: { bgLoss: 'hinge' },
  meanbg: { bgLoss: 'mean' },
  /** Normal images through the network apart (their own batch statistics). */
  sepbn: { normalBn: 'separate' },
  jointbn: { normalBn: 'joint' },
  /** Two normal images with synthetic anomalies per step. */
  syn: { synthetic: 2 },
  nosyn: { synthetic: 0 },
  /** The first third of the steps on synthetic anomalies alone, then the shots (--synthetic-phase). */
  synfirst: { syntheticPhase: 1 / 3 },
  nosynfirst: { syntheticPhase: 0 },
  /** Where crop-and-paste puts a defect: where the surroundings match, near its place, or anywhere. */
  matched: { paste: 'matched' },
  near: { paste: 'near' },
  anywhere: { paste: 'anywhere' },
  /** Crop-and-paste samples on top of a whole batch of shots, or in half of its slots (--paste-slots). */
  extra: { pasteSlots: 'extra' },
  shared: { pasteSlots: 'shared' },
  /** Without the feature term (the background term alone). */
  nofeat: { lambdaFeat: 0 },
};

export type BaseVariant = keyof typeof VARIANTS;
/** A base variant's name, possibly followed by +modifier parts. */
export type Variant = string;
export const VARIANT_NAMES = Object.keys(VARIANTS) as BaseVariant[];

/** The train options a variant sets, or null when the name is not a variant. */
export function variantOptions(name: string): (typeof VARIANTS)[BaseVariant] & MethodOptions | null {
  const [base, ...mods] = name.split('+');
  if (!base || !Object.hasOwn(VARIANTS, base)) return null;
  let options: MethodOptions = {};
  for (const m of mods) {
    if (!Object.hasOwn(MODIFIERS, m)) return null;
    options = { ...options, ...MODIFIERS[m] };
  }
  return { ...VARIANTS[base as BaseVariant], ...options };
}

export function isVariant(name: string): name is Variant {
  return variantOptions(name) !== null;
}
