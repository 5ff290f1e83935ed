// `wood`: a texture whose normal images vary (after MVTec AD's wood): each picture has its own light
// (gain, gradient, vignette), its own grain scale and direction within a range, and on some pictures
// benign marks: a knot, faint streaks along the grain, a darker patch. Defects are small, as MVTec's
// are: a scratch across the grain 1-2 px wide, a hole, a stain.
import type { Rng } from '../util/random.js';
import type { Point } from './synth-defects.js';
import {
  type Drawing, type SynthCategory, applyLighting, blend, blobMask, curve, drawLighting, eachNear, pixelMap,
  placeDefect, strokeMask,
} from './synth-scene.js';
import { RGB, saltOf, valueNoise } from './synth-textures.js';

const EARLYWOOD = [0.7, 0.52, 0.34] as const;
const LATEWOOD = [0.48, 0.31, 0.17] as const;
const KNOT_BROWN = [0.3, 0.17, 0.08] as const;
/** The grain runs within 15 degrees of horizontal; rings are 4.5-8% of the size apart (3 px at least). */
const MAX_GRAIN_TILT = (15 * Math.PI) / 180;
const RING_MIN = 0.045;
const RING_SPREAD = 0.035;
const MIN_RING_PX = 3;
/** A plank under a lamp: a gradient and a vignette. */
const MAX_GRADIENT = 0.15;
const MAX_VIGNETTE = 0.3;
/** How often a normal picture has each kind of benign mark. */
const KNOT_CHANCE = 0.4;
const STREAK_CHANCE = 0.5;
const PATCH_CHANCE = 0.35;
/** Defects keep this share of the size from the border. */
const MARGIN = 0.08;

interface Grain { cos: number; sin: number; period: number; salt: number }

function drawGrain(size: number, r: Rng): Grain {
  const tilt = MAX_GRAIN_TILT * (2 * r() - 1);
  const period = Math.max(MIN_RING_PX, size * (RING_MIN + RING_SPREAD * r()));
  return { cos: Math.cos(tilt), sin: Math.sin(tilt), period, salt: saltOf(r) };
}

/** Growth rings warped by slow noise, narrow dark latewood, and fibres stretched along the grain. */
function grainAlbedo(size: number, g: Grain): Float32Array {
  const out = new Float32Array(size * size * RGB);
  const warpScale = 0.06 * size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x * g.cos + y * g.sin;
      const v = -x * g.sin + y * g.cos;
      const warp = 2 * warpScale * (valueNoise(u / (0.4 * size), v / (0.15 * size), g.salt) - 0.5);
      const late = (0.5 + 0.5 * Math.sin((2 * Math.PI * (v + warp)) / g.period)) ** 3;
      const fibre = valueNoise(u / (1.5 * g.period), v / 0.7, g.salt + 1);
      const t = 0.85 * late + 0.15 * fibre;
      for (let c = 0; c < RGB; c++) out[(y * size + x) * RGB + c] = EARLYWOOD[c]! + t * (LATEWOOD[c]! - EARLYWOOD[c]!);
    }
  }
  return out;
}

/** Calls f with e^2 (0 at the centre, 1 at the edge) for each pixel inside an ellipse. */
function eachInEllipse(size: number, [x0, y0]: Point, along: number, across: number, g: Grain, f: (e2: number, p: number) => void): void {
  eachNear(size, x0, y0, Math.max(along, across), (x, y, p) => {
    const e2 = (((x - x0) * g.cos + (y - y0) * g.sin) / along) ** 2 + ((-(x - x0) * g.sin + (y - y0) * g.cos) / across) ** 2;
    if (e2 < 1) f(e2, p);
  });
}

/** Benign marks, each on some pictures only; their pixels are set in benign. */
function addMarks(albedo: Float32Array, benign: Uint8Array, size: number, g: Grain, r: Rng): void {
  const anywhere = (): Point => [r() * size, r() * size];
  if (r() < KNOT_CHANCE) {
    // a dark knot of concentric rings, 3.5-6% of the size across the grain, longer along it
    const across = size * (0.035 + 0.025 * r());
    const along = across * (1.4 + 0.6 * r());
    eachInEllipse(size, anywhere(), along, across, g, (e2, p) => {
      const rings = 0.75 + 0.25 * Math.sin(6 * Math.PI * Math.sqrt(e2));
      blend(albedo, p, KNOT_BROWN, 0.75 * Math.sqrt(1 - e2) * rings);
      benign[p] = 1;
    });
  }
  if (r() < STREAK_CHANCE) {
    // 1-3 faint dark streaks along the grain, 15-40% of the size long, 1-2.5 px wide
    for (let n = 1 + Math.floor(3 * r()); n > 0; n--) {
      const tilt = Math.atan2(g.sin, g.cos) + 0.05 * (2 * r() - 1);
      const line = curve(anywhere(), tilt, size * (0.15 + 0.25 * r()), 0.1 * (2 * r() - 1), 4);
      const mask = strokeMask(size, [line], 0.5 + 0.75 * r());
      const alpha = 0.08 + 0.07 * r();
      for (let p = 0; p < mask.length; p++) {
        if (!mask[p]) continue;
        blend(albedo, p, LATEWOOD, alpha);
        benign[p] = 1;
      }
    }
  }
  if (r() < PATCH_CHANCE) {
    // a soft darker patch, 7-13% of the size across, up to 12% darker at its centre
    const across = size * (0.07 + 0.06 * r());
    const darker = 0.06 + 0.06 * r();
    eachInEllipse(size, anywhere(), across * (1.2 + 0.8 * r()), across, g, (e2, p) => {
      for (let c = 0; c < RGB; c++) albedo[p * RGB + c]! *= 1 - darker * (1 - e2) ** 2;
      benign[p] = 1;
    });
  }
}

/**
 * Defect strengths, before lighting, chosen so that the largest mean change of a channel is 0.15-0.35
 * (visible, not trivial, as for the regular textures): a scratch lightens by 0.2-0.34 in blue, a hole
 * keeps 52-58% of the wood's light, a stain takes 27-43% off red.
 */
const SCRATCH_LIGHTER = [0.2, 0.34] as const;
const HOLE_KEEPS = [0.52, 0.58] as const;
const STAIN_TAKES = [0.27, 0.43] as const;
/** Fresh fibres under a scratch are paler and less red than the wood around. */
const SCRATCH_PALER = [0.6, 0.8, 1] as const;
/** A stain (oil, water) darkens red most. */
const STAIN_DARKER = [1, 0.85, 0.6] as const;

const within = ([lo, hi]: readonly [number, number], r: Rng): number => lo + (hi - lo) * r();

function drawDefect(albedo: Float32Array, benign: Uint8Array, size: number, g: Grain, type: string, r: Rng): Uint8Array {
  const margin = MARGIN * size;
  const inner = pixelMap(size, (p) => {
    const [x, y] = [p % size, Math.floor(p / size)];
    return x >= margin && y >= margin && x < size - margin && y < size - margin;
  });
  const region = { anchors: inner, allowed: pixelMap(size, () => true), benign, maxCut: 0.1 };
  let mask: Uint8Array;
  let change: (rgb: Float32Array) => void;
  if (type === 'scratch') {
    // across the grain (35-90 degrees off it), 12-30% of the size long, 1-2 px wide
    const grain = Math.atan2(g.sin, g.cos);
    mask = placeDefect(size, region, r, (start) => {
      const off = ((35 + 55 * r()) * Math.PI) / 180;
      const heading = grain + (r() < 0.5 ? off : Math.PI - off);
      return strokeMask(size, [curve(start, heading, size * (0.12 + 0.18 * r()), 0.8 * (r() - 0.5), 8)], 0.5 + 0.5 * r());
    });
    const paler = within(SCRATCH_LIGHTER, r);
    change = (rgb) => rgb.forEach((v, c) => (rgb[c] = v + paler * SCRATCH_PALER[c]!));
  } else if (type === 'hole') {
    // a dark pit of radius 1.2-2.5% of the size, 1.5 px at least (5-13 px at 64)
    mask = placeDefect(size, region, r, (start) => blobMask(size, start, Math.max(1.5, size * (0.012 + 0.013 * r())), saltOf(r), 0.3));
    const keep = within(HOLE_KEEPS, r);
    change = (rgb) => rgb.forEach((v, c) => (rgb[c] = v * keep));
  } else {
    // stain: a blot of radius 3-6% of the size, 2.5 px at least
    mask = placeDefect(size, region, r, (start) => blobMask(size, start, Math.max(2.5, size * (0.03 + 0.03 * r())), saltOf(r), 0.6));
    const darker = within(STAIN_TAKES, r);
    change = (rgb) => rgb.forEach((v, c) => (rgb[c] = v * (1 - darker * STAIN_DARKER[c]!)));
  }
  for (let p = 0; p < mask.length; p++) if (mask[p]) change(albedo.subarray(p * RGB, p * RGB + RGB));
  return mask;
}

export const wood: SynthCategory = {
  description: 'a texture; normals vary in light, grain, knots, streaks',
  defects: ['hole', 'scratch', 'stain'],
  draw: (size, type, sceneRng, defectRng): Drawing => {
    const grain = drawGrain(size, sceneRng);
    const light = drawLighting(sceneRng, MAX_GRADIENT, MAX_VIGNETTE);
    const albedo = grainAlbedo(size, grain);
    const benign = new Uint8Array(size * size);
    addMarks(albedo, benign, size, grain, sceneRng);
    const clean = applyLighting(albedo, size, light);
    if (type === undefined) return { clean, benign };
    const mask = drawDefect(albedo, benign, size, grain, type, defectRng);
    return { clean, altered: applyLighting(albedo, size, light), mask, benign };
  },
};
