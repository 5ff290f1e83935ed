// The conv kernels' variants (what the tuner measures, a tuning file records and a kernel runs): one
// tagged union whose kinds use the same field names in every kernel, each kernel's variant type the
// kinds it supports, and the one validator that reads a variant back from a tuning file. Code that
// branches on a variant switches on `kind` and ends in unknownKind, so a kind added here and not handled
// there fails to compile.
//
// The fields, the same idea under the same name in every kind and kernel:
//   tm  rows of the output tile per invocation: output pixels (conv2d), input pixels (input gradient),
//       weight rows (weight gradient; in vec4 groups of input channels on its register and shared tiles);
//   nv  vec4 columns of the output per invocation: output channels (conv2d, weight gradient), input
//       channels (input gradient);
//   wg  invocations of a 1-D workgroup (register and shared tiles);
//   wx, wy  a workgroup tile's 2-D workgroup: wx invocations along the columns, wy along the rows;
//   bk  values of the reduction a workgroup tile stages in workgroup memory at a time: of k = kh*kw*cin
//       (conv2d), of the pixels (weight gradient).

/** A register tile: each of wg invocations computes tm rows x nv vec4 columns on its own. */
export interface RegisterTile {
  kind: 'register';
  tm: number;
  nv: number;
  wg: number;
}

/**
 * A shared tile: the lanes of a workgroup share their tm rows (each takes its own nv columns) and load
 * the operand all of them need (x for conv2d and the weight gradient, dy for the input gradient) once,
 * passing it round with subgroupShuffle. Needs subgroups of at least SHARE lanes.
 */
export interface SharedTile {
  kind: 'shared';
  tm: number;
  nv: number;
  wg: number;
}

/**
 * A workgroup-memory tile, the layout discrete GPUs are built for: wx x wy invocations, each tm rows x nv
 * vec4 columns, staging bk values of the reduction at a time. Needs cin and cout multiples of 4. Not a
 * candidate on CPU drivers, where workgroup memory is plain memory behind barriers (DESIGN.md: register
 * tiles win there by 10x).
 */
export interface WorkgroupTile {
  kind: 'workgroup';
  wx: number;
  wy: number;
  tm: number;
  nv: number;
  bk: number;
}

/**
 * Winograd F(2x2, 3x3) for 3x3 stride-1 layers (winograd.ts): the input, weights and output transformed,
 * and 16 GEMMs on a shared tile whose fields these are (rows: 2x2 output tiles). Needs cin and cout
 * multiples of 4 and subgroups of at least SHARE lanes.
 */
export interface WinogradTile {
  kind: 'winograd';
  tm: number;
  nv: number;
  wg: number;
}

/**
 * The input gradient of a stride-1 layer as a forward convolution of dy with the weights transposed
 * (cin and cout swapped) and flipped (taps reversed), padded by k - 1 - pad, on `forward`, any variant
 * of conv2d (cin and cout multiples of 4, square kernels).
 */
export interface ViaForward {
  kind: 'viaForward';
  forward: Conv2dVariant;
}

/**
 * The weight gradient's split target, carried by each of its variants: the invocations to fill the
 * device with before the pixel sum stops being split. Absent: the device class's default
 * (defaultTargetInvocations); the tuner's refinement sets it.
 */
export interface SplitTarget {
  targetInvocations?: number;
}

export type Conv2dVariant = RegisterTile | SharedTile | WorkgroupTile | WinogradTile;
export type InputGradVariant = RegisterTile | SharedTile | ViaForward;
/** A Winograd weight gradient does not split its sum over the tiles, so it has no use for a split target. */
export type WeightGradVariant = ((RegisterTile | SharedTile | WorkgroupTile) & SplitTarget) | WinogradTile;
/** Every kind of every kernel. */
export type ConvVariant = RegisterTile | SharedTile | WorkgroupTile | WinogradTile | ViaForward;
export type ConvVariantKind = ConvVariant['kind'];

/**
 * The default of an exhaustive switch on a variant's kind: `v` has type never there, so a kind added to
 * the union without its case does not compile (and a value from outside the types throws).
 */
export function unknownKind(v: never): never {
  throw new Error(`unknown conv variant kind in ${JSON.stringify(v)}`);
}

/** Every kind of V, each once: a kind added to V and left out here does not compile. */
export type KindsOf<V extends ConvVariant> = { readonly [K in V['kind']]: true };

export const CONV2D_KINDS: KindsOf<Conv2dVariant> = { register: true, shared: true, workgroup: true, winograd: true };
export const INPUT_GRAD_KINDS: KindsOf<InputGradVariant> = { register: true, shared: true, viaForward: true };
export const WEIGHT_GRAD_KINDS: KindsOf<WeightGradVariant> = { register: true, shared: true, workgroup: true, winograd: true };

/** The fields of each tile kind, all positive integers, in the order a variant is written with. */
const TILE_FIELDS = {
  register: ['tm', 'nv', 'wg'],
  shared: ['tm', 'nv', 'wg'],
  workgroup: ['wx', 'wy', 'tm', 'nv', 'bk'],
  winograd: ['tm', 'nv', 'wg'],
} as const satisfies { readonly [K in (RegisterTile | SharedTile | WorkgroupTile | WinogradTile)['kind']]: readonly (keyof Extract<ConvVariant, { kind: K }>)[] };

/** Optional positive-integer fields a kernel's variants may carry besides their kind's. */
export type OptionalField = keyof SplitTarget;

function isPositiveInteger(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) > 0;
}

/**
 * `t` (read from a tuning file: anything) as a variant of one of `kinds`, or null: an object whose kind
 * is one of them, whose fields are those of its kind, each a positive integer, plus any of `optional`
 * (positive integers too), and nothing else; a viaForward's `forward` a conv2d variant. The variant is
 * rebuilt in the order the kernels write one, so it compares and prints as a candidate does.
 */
export function parseVariant<V extends ConvVariant>(t: unknown, kinds: KindsOf<V>, optional: readonly OptionalField[] = []): V | null {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return null;
  const o = t as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !Object.hasOwn(kinds, o.kind)) return null;
  const kind = o.kind as ConvVariantKind;
  const only = (allowed: readonly string[]) => Object.keys(o).every((k) => k === 'kind' || allowed.includes(k));
  switch (kind) {
    case 'register':
    case 'shared':
    case 'workgroup':
    case 'winograd': {
      const fields: readonly string[] = TILE_FIELDS[kind];
      // A Winograd tile takes none of the optional fields (split targets).
      const present = kind === 'winograd' ? [] : optional.filter((k) => o[k] !== undefined);
      if (!only([...fields, ...(kind === 'winograd' ? [] : optional)]) || ![...fields, ...present].every((k) => isPositiveInteger(o[k]))) return null;
      return Object.fromEntries([['kind', kind], ...[...fields, ...present].map((k) => [k, o[k]])]) as V;
    }
    case 'viaForward': {
      const forward = only(['forward']) ? parseVariant(o.forward, CONV2D_KINDS) : null;
      return forward === null ? null : ({ kind, forward } as V);
    }
    default:
      return unknownKind(kind);
  }
}

/** parseVariant, then null unless `problem` (the kernel's runnability check) finds none. */
export function parseRunnable<V extends ConvVariant>(t: unknown, kinds: KindsOf<V>, problem: (v: V) => string | null, optional: readonly OptionalField[] = []): V | null {
  const v = parseVariant(t, kinds, optional);
  return v !== null && problem(v) === null ? v : null;
}
