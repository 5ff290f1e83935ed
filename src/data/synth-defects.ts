// The synthetic data set's defects (synth.ts): the shapes of their masks, and how each alters the
// pixels under its mask. Apart from the textures and from writing the data set, so each reads on its own.
import type { Rng } from '../util/random.js';
import { RGB, hash2, saltOf, valueNoise } from './synth-textures.js';

/** Defect centres keep this share of the size away from the border. */
const CENTRE_MARGIN = 0.15;

// ---- defect shapes: size x size masks of 0/1, never empty (each contains its own start or centre)

export type Point = [number, number];

function scanMask(size: number, inside: (x: number, y: number) => boolean): Uint8Array {
  const mask = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) mask[y * size + x] = inside(x, y) ? 1 : 0;
  return mask;
}

function centre(size: number, r: Rng): Point {
  const span = size * (1 - 2 * CENTRE_MARGIN);
  return [Math.floor(size * CENTRE_MARGIN + r() * span), Math.floor(size * CENTRE_MARGIN + r() * span)];
}

export function segmentDistance(x: number, y: number, [ax, ay]: Point, [bx, by]: Point): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSq = dx * dx + dy * dy;
  const t = lengthSq === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / lengthSq));
  return Math.hypot(x - ax - t * dx, y - ay - t * dy);
}

/** Pixels within halfWidth of a polyline. */
function polylineMask(size: number, points: Point[], halfWidth: number): Uint8Array {
  return scanMask(size, (x, y) => {
    for (let i = 1; i < points.length; i++) {
      if (segmentDistance(x, y, points[i - 1]!, points[i]!) <= halfWidth) return true;
    }
    return false;
  });
}

/** A straight thin line: 15-40% of the size long, 1.4-3 px wide. */
function lineShape(size: number, r: Rng): Uint8Array {
  const start = centre(size, r);
  const angle = r() * 2 * Math.PI;
  const length = size * (0.15 + 0.25 * r());
  const end: Point = [start[0] + length * Math.cos(angle), start[1] + length * Math.sin(angle)];
  return polylineMask(size, [start, end], 0.7 + 0.8 * r());
}

/** A wandering thin line: a random walk of 4-7 short segments. */
function crackShape(size: number, r: Rng): Uint8Array {
  const points: Point[] = [centre(size, r)];
  let angle = r() * 2 * Math.PI;
  const segments = 4 + Math.floor(r() * 4);
  for (let i = 0; i < segments; i++) {
    const [x, y] = points[points.length - 1]!;
    const step = Math.max(2, size * (0.04 + 0.04 * r()));
    angle += 1.2 * (r() - 0.5);
    points.push([x + step * Math.cos(angle), y + step * Math.sin(angle)]);
  }
  return polylineMask(size, points, 0.6 + 0.6 * r());
}

/** A filled, rotated ellipse with radii of 3.5-9% of the size. */
function ellipseShape(size: number, r: Rng): Uint8Array {
  const [cx, cy] = centre(size, r);
  const rx = Math.max(2, size * (0.035 + 0.055 * r()));
  const ry = Math.max(2, size * (0.035 + 0.055 * r()));
  const angle = r() * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return scanMask(size, (x, y) => {
    const u = ((x - cx) * cos + (y - cy) * sin) / rx;
    const v = (-(x - cx) * sin + (y - cy) * cos) / ry;
    return u * u + v * v <= 1;
  });
}

/** An irregular blob: a disc whose edge is pushed in and out by noise (the centre is always inside). */
function blobShape(size: number, r: Rng): Uint8Array {
  const [cx, cy] = centre(size, r);
  const radius = Math.max(3, size * (0.05 + 0.07 * r()));
  const salt = saltOf(r);
  const wobble = radius / 2;
  return scanMask(size, (x, y) => {
    const d = Math.hypot(x - cx, y - cy) / radius;
    return d + 0.6 * (valueNoise(x / wobble, y / wobble, salt) - 0.5) < 1;
  });
}

// ---- alterations: change the pixels of the mask only

type Alteration = (image: Float32Array, mask: Uint8Array, contrast: number, r: Rng) => void;

function eachMasked(image: Float32Array, mask: Uint8Array, f: (rgb: Float32Array, p: number) => void): void {
  for (let p = 0; p < mask.length; p++) if (mask[p]) f(image.subarray(p * RGB, p * RGB + RGB), p);
}

/** Brighter or darker by the contrast, keeping the texture underneath (a scratch catching the light). */
const shift: Alteration = (image, mask, contrast, r) => {
  const sign = r() < 0.5 ? -1 : 1;
  eachMasked(image, mask, (rgb) => rgb.forEach((v, c) => (rgb[c] = v + sign * contrast)));
};

const darken: Alteration = (image, mask, contrast) => {
  eachMasked(image, mask, (rgb) => rgb.forEach((v, c) => (rgb[c] = v - contrast)));
};

/** A hole shows a dark, colourless, grainy backing instead of the texture. */
const seeThrough: Alteration = (image, mask, contrast, r) => {
  const salt = saltOf(r);
  eachMasked(image, mask, (rgb, p) => {
    const luminance = (rgb[0]! + rgb[1]! + rgb[2]!) / RGB;
    const grain = 0.08 * (hash2(p, 0, salt) - 0.5);
    rgb.fill(luminance - contrast + grain);
  });
};

/** A spot is flat: the image's mean colour, lighter or darker, with the texture gone. */
const flatSpot: Alteration = (image, mask, contrast, r) => {
  const mean = [0, 0, 0];
  for (let i = 0; i < image.length; i++) mean[i % RGB]! += image[i]! / (image.length / RGB);
  const sign = r() < 0.5 ? -1 : 1;
  eachMasked(image, mask, (rgb) => rgb.forEach((_, c) => (rgb[c] = mean[c]! + sign * contrast)));
};

/** Takes the contrast off blue, less off red: a yellow-brown stain over the texture. */
const STAIN_ABSORPTION = [0.5, 0.8, 1.0] as const;
const stainTint: Alteration = (image, mask, contrast) => {
  eachMasked(image, mask, (rgb) => rgb.forEach((v, c) => (rgb[c] = v - contrast * STAIN_ABSORPTION[c]!)));
};

interface DefectKind {
  shape: (size: number, r: Rng) => Uint8Array;
  alter: Alteration;
}

export const DEFECTS = {
  scratch: { shape: lineShape, alter: shift },
  crack: { shape: crackShape, alter: darken },
  hole: { shape: ellipseShape, alter: seeThrough },
  spot: { shape: ellipseShape, alter: flatSpot },
  stain: { shape: blobShape, alter: stainTint },
} satisfies Record<string, DefectKind>;

export type DefectName = keyof typeof DEFECTS;
