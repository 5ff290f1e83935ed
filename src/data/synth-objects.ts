// `pill`: an aligned object as on a production line, a capsule-shaped tablet near the centre of a plain
// background (after MVTec AD's pill). Its normal images vary as real ones do, so that they teach what a
// few annotated shots cannot: pose, lighting, and benign marks (a printed logo that is always there but
// never quite the same, dust specks, faint smudges, a soft shadow). Defects lie on the pill only.
import type { Rng } from '../util/random.js';
import type { Point } from './synth-defects.js';
import {
  type Drawing, type Lighting, type SynthCategory, applyLighting, blend, blobMask, crackLines, curve, drawLighting, eachNear,
  pixelMap, placeDefect, strokeMask,
} from './synth-scene.js';
import { RGB, saltOf, valueNoise } from './synth-textures.js';

const BACKGROUND = [0.47, 0.5, 0.54] as const;
const PILL_WHITE = [0.8, 0.77, 0.7] as const;
const INK = [0.58, 0.25, 0.2] as const;
const SMUDGE_GREY = [0.38, 0.38, 0.4] as const;
/** The pill's straight part's half-length and its radius, as shares of the size: 0.6 x 0.3 in all. */
export const HALF_LENGTH = 0.15;
export const RADIUS = 0.15;
/** Pose: tilt up to 10 degrees, shift up to 4% of the size, scale 1 +- 5%. */
const MAX_TILT = (10 * Math.PI) / 180;
const MAX_SHIFT = 0.04;
const MAX_SCALE = 0.05;
/** A stage is lit evenly enough for no vignette, but not from straight above. */
const MAX_GRADIENT = 0.15;
/** The printed logo "O=" on the pill's left half, in pill radii: a ring and two bars. */
const RING_U = -0.85;
const RING_RADIUS = 0.4;
const BAR_U: [number, number] = [0.1, 1.15];
const BAR_V = 0.22;
const LOGO_TILT = (4 * Math.PI) / 180;
/** Dust: up to this many specks a picture; smudges: up to two. */
const MAX_SPECKS = 5;
const MAX_SMUDGES = 2;

export interface Pose { cx: number; cy: number; cos: number; sin: number; scale: number }

function drawPose(size: number, r: Rng): Pose {
  const angle = MAX_TILT * (2 * r() - 1);
  const centre = (size - 1) / 2;
  return {
    cx: centre + MAX_SHIFT * size * (2 * r() - 1),
    cy: centre + MAX_SHIFT * size * (2 * r() - 1),
    cos: Math.cos(angle),
    sin: Math.sin(angle),
    scale: 1 + MAX_SCALE * (2 * r() - 1),
  };
}

/** Pixel (x, y) in the pill's own frame: u along it, v across, in unscaled pixels. */
export function toPill(pose: Pose, x: number, y: number): Point {
  const dx = x - pose.cx;
  const dy = y - pose.cy;
  return [(dx * pose.cos + dy * pose.sin) / pose.scale, (-dx * pose.sin + dy * pose.cos) / pose.scale];
}

/** Math.hypot is several times slower, and these run for every pixel. */
const length = (x: number, y: number): number => Math.sqrt(x * x + y * y);

/** Distance from (u, v) to the pill's axis, the segment from (-a, 0) to (a, 0). */
const axisDistance = (u: number, v: number, a: number): number => length(Math.max(0, Math.abs(u) - a), v);

const clamp01 = (t: number): number => Math.min(1, Math.max(0, t));

/** How the logo differs from picture to picture: ink, stroke, a little offset and turn. */
interface Logo { du: number; dv: number; cos: number; sin: number; ring: number; width: number; ink: number }

function drawLogo(size: number, r: Rng): Logo {
  const b = RADIUS * size;
  const turn = LOGO_TILT * (2 * r() - 1);
  return {
    du: 0.05 * b * (2 * r() - 1),
    dv: 0.05 * b * (2 * r() - 1),
    cos: Math.cos(turn),
    sin: Math.sin(turn),
    ring: RING_RADIUS * b * (1 + 0.05 * (2 * r() - 1)),
    // 3 px at 256, never under 1 px
    width: Math.max(1, 0.012 * size) * (1 + 0.2 * (2 * r() - 1)),
    ink: 0.55 + 0.3 * r(),
  };
}

/** The logo's opacity at pill-frame point (u, v) (1 px of anti-aliasing at its edges). */
function logoAlpha(logo: Logo, b: number, scale: number, u: number, v: number): number {
  const lu = (u - logo.du) * logo.cos + (v - logo.dv) * logo.sin;
  const lv = -(u - logo.du) * logo.sin + (v - logo.dv) * logo.cos;
  const ring = Math.abs(length(lu - RING_U * b, lv) - logo.ring);
  const bar = length(Math.max(BAR_U[0] * b - lu, 0, lu - BAR_U[1] * b), Math.abs(Math.abs(lv) - BAR_V * b));
  return clamp01(logo.width / 2 + 0.5 - Math.min(ring, bar) * scale) * logo.ink;
}

interface Shadow { dx: number; dy: number; softness: number; strength: number }

/** Cast down and to the right (+- 30 degrees), 1.5-3% of the size away, soft and faint. */
function drawShadow(size: number, r: Rng): Shadow {
  const angle = Math.PI / 4 + (Math.PI / 6) * (2 * r() - 1);
  const distance = size * (0.015 + 0.015 * r());
  return { dx: distance * Math.cos(angle), dy: distance * Math.sin(angle), softness: Math.max(1, 0.025 * size), strength: 0.06 + 0.08 * r() };
}

export interface PillScene {
  pose: Pose;
  /** Before lighting, with every benign mark. */
  albedo: Float32Array;
  /** What shows where the pill is not: background, mottle and shadow. */
  background: Float32Array;
  /** The pill's share of each pixel. */
  coverage: Float32Array;
  benign: Uint8Array;
  light: Lighting;
}

export function drawScene(size: number, r: Rng): PillScene {
  const pose = drawPose(size, r);
  const light = drawLighting(r, MAX_GRADIENT, 0);
  const logo = drawLogo(size, r);
  const shadow = drawShadow(size, r);
  const salt = saltOf(r);
  const a = HALF_LENGTH * size;
  const b = RADIUS * size;
  const grain = Math.max(1, size / 128);
  const mottle = size / 8;
  const albedo = new Float32Array(size * size * RGB);
  const background = new Float32Array(size * size * RGB);
  const coverage = new Float32Array(size * size);
  const benign = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      const [su, sv] = toPill(pose, x - shadow.dx, y - shadow.dy);
      const shade = shadow.strength * clamp01(0.5 - ((axisDistance(su, sv, a) - b) * pose.scale) / shadow.softness);
      const ground = (1 - shade) * (1 + 0.04 * (valueNoise(x / mottle, y / mottle, salt) - 0.5));
      for (let c = 0; c < RGB; c++) background[p * RGB + c] = BACKGROUND[c]! * ground;
      albedo.set(background.subarray(p * RGB, p * RGB + RGB), p * RGB);
      const [u, v] = toPill(pose, x, y);
      const d = axisDistance(u, v, a);
      const cov = clamp01(0.5 - (d - b) * pose.scale);
      coverage[p] = cov;
      if (cov === 0) continue;
      // a domed tablet: brightest along its axis; a fine grain that moves with it
      const tone = (0.8 + 0.2 * Math.sqrt(Math.max(0, 1 - (d / b) ** 2))) * (1 + 0.05 * (valueNoise(u / grain, v / grain, salt + 1) - 0.5));
      const ink = logoAlpha(logo, b, pose.scale, u, v);
      if (ink > 0) benign[p] = 1;
      for (let c = 0; c < RGB; c++) {
        const body = PILL_WHITE[c]! * tone;
        albedo[p * RGB + c]! += cov * (body + ink * (INK[c]! - body) - albedo[p * RGB + c]!);
      }
    }
  }
  addDust(albedo, benign, size, r);
  return { pose, albedo, background, coverage, benign, light };
}

/** Dust specks (grey dots of 1-3 px) and faint smudges at random places, on the pill or beside it. */
function addDust(albedo: Float32Array, benign: Uint8Array, size: number, r: Rng): void {
  for (let n = Math.floor(r() * (MAX_SPECKS + 1)); n > 0; n--) {
    const [x0, y0] = [r() * size, r() * size];
    const radius = Math.max(0.7, size * (0.002 + 0.003 * r()));
    const colour = r() < 0.5 ? [0.2, 0.2, 0.2] : [0.9, 0.9, 0.88];
    const alpha = 0.3 + 0.3 * r();
    eachNear(size, x0, y0, radius + 0.5, (x, y, p) => {
      const cover = clamp01(radius + 0.5 - length(x - x0, y - y0));
      if (cover === 0) return;
      blend(albedo, p, colour, cover * alpha);
      benign[p] = 1;
    });
  }
  for (let n = Math.floor(r() * (MAX_SMUDGES + 1)); n > 0; n--) {
    const [x0, y0] = [r() * size, r() * size];
    const rx = size * (0.03 + 0.03 * r());
    const ry = rx * (0.4 + 0.6 * r());
    const [cos, sin] = [Math.cos(Math.PI * r()), Math.sin(Math.PI * r())];
    const alpha = 0.06 + 0.06 * r();
    eachNear(size, x0, y0, rx, (x, y, p) => {
      const e2 = (((x - x0) * cos + (y - y0) * sin) / rx) ** 2 + ((-(x - x0) * sin + (y - y0) * cos) / ry) ** 2;
      if (e2 >= 1) return;
      blend(albedo, p, SMUDGE_GREY, alpha * (1 - e2) ** 2);
      benign[p] = 1;
    });
  }
}

// ---- defects: drawn on the albedo, where no benign mark is, so lighting treats both images alike

/** Defect strength: the largest change of a channel, before lighting. */
const CONTRAST_MIN = 0.2;
const CONTRAST_MAX = 0.34;
/** Foreign colours as directions of change (largest channel 1): rust, blue-green, soot. */
const FOREIGN = [[-0.25, -0.65, -1], [-1, -0.35, -0.3], [-0.9, -0.9, -1]] as const;

function shiftMasked(albedo: Float32Array, mask: Uint8Array, delta: readonly number[]): void {
  for (let p = 0; p < mask.length; p++) if (mask[p]) for (let c = 0; c < RGB; c++) albedo[p * RGB + c]! += delta[c]!;
}

export function drawDefect(scene: PillScene, size: number, type: string, r: Rng): { albedo: Float32Array; mask: Uint8Array } {
  const albedo = scene.albedo.slice();
  const inside = pixelMap(size, (p) => scene.coverage[p] === 1);
  const onPill = { anchors: inside, allowed: inside, benign: scene.benign, maxCut: 0.1 };
  const contrast = () => CONTRAST_MIN + (CONTRAST_MAX - CONTRAST_MIN) * r();
  let mask: Uint8Array;
  if (type === 'scratch') {
    // 1-2 px wide, 10-25% of the size long, bent by up to 0.6 rad either way
    mask = placeDefect(size, onPill, r, (start) =>
      strokeMask(size, [curve(start, 2 * Math.PI * r(), size * (0.1 + 0.15 * r()), 1.2 * (r() - 0.5), 8)], 0.5 + 0.5 * r()));
    const k = -contrast();
    shiftMasked(albedo, mask, [k, k, k]);
  } else if (type === 'crack') {
    // steps of 3-5% of the size (2 px at least), 1-1.6 px wide
    mask = placeDefect(size, onPill, r, (start) =>
      strokeMask(size, crackLines(start, Math.max(2, size * (0.03 + 0.02 * r())), r), 0.5 + 0.3 * r()));
    const k = -contrast();
    shiftMasked(albedo, mask, [k, k, 0.9 * k]);
  } else if (type === 'contamination') {
    // radius 2-4% of the size, 2 px at least
    mask = placeDefect(size, onPill, r, (start) => blobMask(size, start, Math.max(2, size * (0.02 + 0.02 * r())), saltOf(r), 0.5));
    const k = contrast();
    shiftMasked(albedo, mask, FOREIGN[Math.floor(r() * FOREIGN.length)]!.map((d) => d * k));
  } else {
    // missing: a bite of radius 4-7% of the size (3 px at least) out of the pill's edge shows the background
    const edge = pixelMap(size, (p) => scene.coverage[p]! >= 0.5 && scene.coverage[p]! < 1);
    const solid = pixelMap(size, (p) => scene.coverage[p]! >= 0.25);
    mask = placeDefect(size, { anchors: edge, allowed: solid, benign: scene.benign, maxCut: 0.7 }, r, (start) =>
      blobMask(size, start, Math.max(3, size * (0.04 + 0.03 * r())), saltOf(r), 0.4));
    for (let p = 0; p < mask.length; p++) if (mask[p]) albedo.set(scene.background.subarray(p * RGB, p * RGB + RGB), p * RGB);
  }
  return { albedo, mask };
}

export const pill: SynthCategory = {
  description: 'an aligned object; normals vary in pose, light, logo, dust, shadow',
  defects: ['contamination', 'crack', 'missing', 'scratch'],
  draw: (size, type, sceneRng, defectRng): Drawing => {
    const scene = drawScene(size, sceneRng);
    const clean = applyLighting(scene.albedo, size, scene.light);
    if (type === undefined) return { clean, benign: scene.benign };
    const { albedo, mask } = drawDefect(scene, size, type, defectRng);
    return { clean, altered: applyLighting(albedo, size, scene.light), mask, benign: scene.benign };
  },
};
