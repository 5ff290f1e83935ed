// What every synthetic category is (synth.ts), and what the categories whose normal images vary
// (synth-objects.ts, synth-varied.ts) share: per-image lighting, thin strokes and blobs, and the placing
// of a defect clear of benign marks (normal variation, such as dust or a knot, that no mask contains).
import type { Rng } from '../util/random.js';
import { type Point, segmentDistance } from './synth-defects.js';
import { RGB, valueNoise } from './synth-textures.js';

/** One image of a category: HWC RGB floats in [0, 1], which synth.ts clips and rounds to bytes. */
export interface Drawing {
  clean: Float32Array;
  /** Defect images only: the image with its defect, equal to clean outside the mask. */
  altered?: Float32Array;
  /** Defect images only: 0/1 per pixel. */
  mask?: Uint8Array;
  /** 0/1 per pixel where a benign mark lies (categories that have them); no mask contains one. */
  benign?: Uint8Array;
}

export interface SynthCategory {
  /** One line for `gpuseg synth --help`. */
  description: string;
  defects: readonly string[];
  /**
   * Draws one image: `type` is a defect type, or undefined for a normal image. The scene and the defect
   * draw from separate streams, so a defect image's clean image is the very scene it was painted on.
   */
  draw: (size: number, type: string | undefined, scene: Rng, defect: Rng) => Drawing;
}

// ---- lighting: one multiplier per pixel and channel, the same for an image and its defect version

export interface Lighting {
  gain: number;
  /** Per-channel factors: a slight colour cast. */
  cast: number[];
  /** A linear gradient: the direction it brightens towards, and its strength across the image. */
  angle: number;
  gradient: number;
  /** Darkening towards the corners (0: none). */
  vignette: number;
}

/** Gain in 1 +- 12%, a colour cast of up to 3% per channel. */
const GAIN_SPREAD = 0.12;
const CAST_SPREAD = 0.03;

export function drawLighting(r: Rng, maxGradient: number, maxVignette: number): Lighting {
  return {
    gain: 1 + GAIN_SPREAD * (2 * r() - 1),
    cast: [0, 1, 2].map(() => 1 + CAST_SPREAD * (2 * r() - 1)),
    angle: 2 * Math.PI * r(),
    gradient: maxGradient * r(),
    vignette: maxVignette * r(),
  };
}

/** The lit image: albedo times the light; pixels with equal albedo stay equal. */
export function applyLighting(albedo: Float32Array, size: number, light: Lighting): Float32Array {
  const out = new Float32Array(albedo.length);
  const cos = Math.cos(light.angle);
  const sin = Math.sin(light.angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) / size - 0.5;
      const v = (y + 0.5) / size - 0.5;
      // along in [-0.71, 0.71]; corner distance squared scaled to 1
      const along = u * cos + v * sin;
      const f = light.gain * (1 + light.gradient * along) * (1 - light.vignette * 2 * (u * u + v * v));
      const p = (y * size + x) * RGB;
      for (let c = 0; c < RGB; c++) out[p + c] = albedo[p + c]! * f * light.cast[c]!;
    }
  }
  return out;
}

// ---- marks and shapes

/** Mixes colour into pixel p with the given opacity. */
export function blend(image: Float32Array, p: number, colour: readonly number[], alpha: number): void {
  for (let c = 0; c < RGB; c++) image[p * RGB + c]! += alpha * (colour[c]! - image[p * RGB + c]!);
}

/** Calls f for each pixel centre of the box around (cx, cy) with the given reach, clipped to the image. */
export function eachNear(size: number, cx: number, cy: number, reach: number, f: (x: number, y: number, p: number) => void): void {
  const y1 = Math.min(size - 1, Math.ceil(cy + reach));
  const x1 = Math.min(size - 1, Math.ceil(cx + reach));
  for (let y = Math.max(0, Math.floor(cy - reach)); y <= y1; y++) {
    for (let x = Math.max(0, Math.floor(cx - reach)); x <= x1; x++) f(x, y, y * size + x);
  }
}

/** Pixels whose centres lie within halfWidth of one of the polylines: 1-2 px wide for halfWidth 0.5-1. */
export function strokeMask(size: number, lines: Point[][], halfWidth: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  for (const line of lines) {
    for (let i = 1; i < line.length; i++) {
      const a = line[i - 1]!;
      const b = line[i]!;
      const reach = Math.hypot(b[0] - a[0], b[1] - a[1]) / 2 + halfWidth;
      eachNear(size, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2, reach, (x, y, p) => {
        if (segmentDistance(x, y, a, b) <= halfWidth) mask[p] = 1;
      });
    }
  }
  return mask;
}

/** An irregular disc whose edge noise pushes in and out by up to roughness / 2; its centre is inside. */
export function blobMask(size: number, [cx, cy]: Point, radius: number, salt: number, roughness: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  const wobble = Math.max(1, radius / 2);
  eachNear(size, cx, cy, radius * (1 + roughness / 2), (x, y, p) => {
    const d = Math.sqrt((x - cx) ** 2 + (y - cy) ** 2) / radius;
    if (d + roughness * (valueNoise(x / wobble, y / wobble, salt) - 0.5) < 1) mask[p] = 1;
  });
  return mask;
}

/** A gently curving line from start: `segments` equal steps whose heading turns by `turn` radians in all. */
export function curve(start: Point, angle: number, length: number, turn: number, segments: number): Point[] {
  const points: Point[] = [start];
  const step = length / segments;
  for (let i = 0; i < segments; i++) {
    const [x, y] = points[i]!;
    const heading = angle + (turn * (i + 0.5)) / segments;
    points.push([x + step * Math.cos(heading), y + step * Math.sin(heading)]);
  }
  return points;
}

/** A crack: a wandering line of 4-6 steps from start, with 1-2 shorter branches off its inner points. */
export function crackLines(start: Point, step: number, r: Rng): Point[][] {
  const walk = (from: Point, heading: number, steps: number, length: number): Point[] => {
    const points = [from];
    for (let i = 0; i < steps; i++) {
      heading += 1.1 * (r() - 0.5);
      const [x, y] = points[i]!;
      points.push([x + length * Math.cos(heading), y + length * Math.sin(heading)]);
    }
    return points;
  };
  const heading = 2 * Math.PI * r();
  const main = walk(start, heading, 4 + Math.floor(3 * r()), step);
  const lines = [main];
  for (let b = 1 + Math.floor(2 * r()); b > 0; b--) {
    const fork = main[1 + Math.floor(r() * (main.length - 2))]!;
    const side = r() < 0.5 ? -1 : 1;
    lines.push(walk(fork, heading + side * (0.6 + 0.6 * r()), 2 + Math.floor(2 * r()), 0.7 * step));
  }
  return lines;
}

// ---- placing a defect

/** Placements tried before the best one so far is taken. */
const PLACEMENT_TRIES = 8;

export interface Region {
  /** Pixels a defect may start from (a subset of allowed). */
  anchors: Uint8Array;
  /** Pixels a defect may cover; the rest of its shape is cut off. */
  allowed: Uint8Array;
  benign: Uint8Array;
  /** The share of its shape a placement may lose to the edge of allowed and still be taken at once. */
  maxCut: number;
}

/**
 * The mask of a defect whose shape `shape` draws around an anchor pixel, kept to the allowed pixels and
 * off the benign ones. A placement that touches a benign mark, or loses more than maxCut of its shape to
 * the region's edge, is drawn again elsewhere; after PLACEMENT_TRIES the largest is taken. Never empty:
 * the anchor is allowed, not benign, and inside its own shape.
 */
export function placeDefect(size: number, region: Region, r: Rng, shape: (anchor: Point) => Uint8Array): Uint8Array {
  const starts: number[] = [];
  for (let p = 0; p < size * size; p++) if (region.anchors[p] && !region.benign[p]) starts.push(p);
  if (starts.length === 0) throw new Error('synth: no free pixel to place a defect on');
  let best: { mask: Uint8Array; kept: number } = { mask: new Uint8Array(0), kept: 0 };
  for (let attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
    const start = starts[Math.floor(r() * starts.length)]!;
    const mask = shape([start % size, Math.floor(start / size)]);
    let [whole, kept, touches] = [0, 0, false];
    for (let p = 0; p < mask.length; p++) {
      if (!mask[p]) continue;
      whole++;
      if (!region.allowed[p] || region.benign[p]) mask[p] = 0;
      else kept++;
      if (region.benign[p]) touches = true;
    }
    if (!touches && kept >= (1 - region.maxCut) * whole) return mask;
    if (kept > best.kept) best = { mask, kept };
  }
  return best.mask;
}

/** A 0/1 map of the pixels for which keep(p) holds. */
export function pixelMap(size: number, keep: (p: number) => boolean): Uint8Array {
  const map = new Uint8Array(size * size);
  for (let p = 0; p < map.length; p++) map[p] = keep(p) ? 1 : 0;
  return map;
}
