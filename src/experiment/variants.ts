// The ablations of METHOD.md, each a setting of the three switches of the method.
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

export type Variant = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as Variant[];

export function isVariant(name: string): name is Variant {
  return Object.hasOwn(VARIANTS, name);
}
