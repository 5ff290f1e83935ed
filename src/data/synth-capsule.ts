// `capsule`: the pill of synth-objects.ts whose normal images also carry benign marks that look like its
// defects, as a line's normal parts do: a bright glint the size of a contamination, a moulding seam as thin
// and dark as a scratch but always along the capsule's axis, a dark fibre lying on the background. Each
// picture has none, one or two of them, so that one to five annotated images show only a few, and the
// normal images show what they are. Measured first: on `pill` a shots-only model already ignores the
// benign marks (docs/results.md), so its normal images have nothing to teach; here they do.
import type { Rng } from '../util/random.js';
import type { Point } from './synth-defects.js';
import { type PillScene, type Pose, HALF_LENGTH, RADIUS, drawDefect, drawScene } from './synth-objects.js';
import { type Drawing, type SynthCategory, applyLighting, blobMask, curve, pixelMap, strokeMask } from './synth-scene.js';
import { RGB, saltOf } from './synth-textures.js';

/** The marks' strength, as the defects' (synth-objects.ts): the largest change of a channel. */
const CONTRAST_MIN = 0.2;
const CONTRAST_MAX = 0.34;
/** Share of pictures with no look-alike mark; the rest have one or (with this share of them) two. */
const NONE_SHARE = 0.4;
const TWO_SHARE = 0.4;
export const LOOKALIKES = ['glint', 'seam', 'fibre'] as const;
export type Lookalike = (typeof LOOKALIKES)[number];

/** Image coordinates of pill-frame point (u, v): the inverse of toPill. */
function fromPill(pose: Pose, u: number, v: number): Point {
  return [pose.cx + pose.scale * (u * pose.cos - v * pose.sin), pose.cy + pose.scale * (u * pose.sin + v * pose.cos)];
}

/** A random pixel of a 0/1 map (the map is never empty for the pill's body or background). */
function anyPixel(size: number, map: Uint8Array, r: Rng): Point {
  const where: number[] = [];
  for (let p = 0; p < map.length; p++) if (map[p]) where.push(p);
  const p = where[Math.floor(r() * where.length)]!;
  return [p % size, Math.floor(p / size)];
}

/** The mask of one look-alike mark, kept to where its kind lies (the body, or the background). */
function lookalikeMask(scene: PillScene, size: number, kind: Lookalike, r: Rng): Uint8Array {
  const body = pixelMap(size, (p) => scene.coverage[p] === 1);
  const ground = pixelMap(size, (p) => scene.coverage[p] === 0);
  let mask: Uint8Array;
  let keep: Uint8Array;
  if (kind === 'glint') {
    // a contamination's size: radius 2-4% of the size, 2 px at least
    mask = blobMask(size, anyPixel(size, body, r), Math.max(2, size * (0.02 + 0.02 * r())), saltOf(r), 0.5);
    keep = body;
  } else if (kind === 'seam') {
    // along the axis, a quarter to three fifths of a radius off it, 10-25% of the size long, 1-2 px wide
    const a = HALF_LENGTH * size;
    const b = RADIUS * size;
    const v = (r() < 0.5 ? -1 : 1) * b * (0.25 + 0.35 * r());
    const length = size * (0.1 + 0.15 * r());
    const u0 = -a + (2 * a - length / scene.pose.scale) * r();
    mask = strokeMask(size, [[fromPill(scene.pose, u0, v), fromPill(scene.pose, u0 + length / scene.pose.scale, v)]], 0.5 + 0.5 * r());
    keep = body;
  } else {
    // a scratch's shape on the background: 10-25% of the size, bent by up to 0.6 rad
    mask = strokeMask(size, [curve(anyPixel(size, ground, r), 2 * Math.PI * r(), size * (0.1 + 0.15 * r()), 1.2 * (r() - 0.5), 8)], 0.5 + 0.5 * r());
    keep = ground;
  }
  for (let p = 0; p < mask.length; p++) if (!keep[p]) mask[p] = 0;
  return mask;
}

/** Paints none, one or two look-alike marks into the scene's albedo and marks them benign. */
export function addLookalikes(scene: PillScene, size: number, r: Rng): Lookalike[] {
  const count = r() < NONE_SHARE ? 0 : r() < TWO_SHARE ? 2 : 1;
  const kinds: Lookalike[] = [];
  for (let i = 0; i < count; i++) {
    const kind = LOOKALIKES[Math.floor(r() * LOOKALIKES.length)]!;
    const k = CONTRAST_MIN + (CONTRAST_MAX - CONTRAST_MIN) * r();
    // a glint brightens every channel; a seam darkens as a scratch does; a fibre is darker still
    const delta = kind === 'glint' ? [k, k, k] : kind === 'seam' ? [-k, -k, -k] : [-1.2 * k, -1.2 * k, -k];
    const mask = lookalikeMask(scene, size, kind, r);
    for (let p = 0; p < mask.length; p++) {
      if (!mask[p]) continue;
      for (let c = 0; c < RGB; c++) scene.albedo[p * RGB + c]! += delta[c]!;
      scene.benign[p] = 1;
    }
    kinds.push(kind);
  }
  return kinds;
}

export const capsule: SynthCategory = {
  description: 'the pill, whose normals also carry defect look-alikes (glint, seam, fibre)',
  defects: ['contamination', 'crack', 'missing', 'scratch'],
  draw: (size, type, sceneRng, defectRng): Drawing => {
    const scene = drawScene(size, sceneRng);
    addLookalikes(scene, size, sceneRng);
    const clean = applyLighting(scene.albedo, size, scene.light);
    if (type === undefined) return { clean, benign: scene.benign };
    const { albedo, mask } = drawDefect(scene, size, type, defectRng);
    return { clean, altered: applyLighting(albedo, size, scene.light), mask, benign: scene.benign };
  },
};
