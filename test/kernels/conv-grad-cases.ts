// The layer cases both conv2d gradient test files run (test/kernels/conv2dInputGrad.test.ts and
// conv2dWeightGrad.test.ts), and the pool poisoning they share.
import { type Conv2dGeometry, conv2dGeometry } from '../../src/core/geometry.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/index.js';

export interface Case {
  name: string;
  /** NHWC input shape. */
  x: [number, number, number, number];
  k: number;
  cout: number;
  stride: number;
  pad: number;
  bias?: boolean;
}

// The ResNet-34 UNet's layer kinds at a 32x32 input (stem, encoder, downsample, decoder, head), batch 1
// and 3, odd sizes (stride 2 on odd sizes leaves input rows no output reads) and odd channel counts.
export const CASES: Case[] = [
  { name: 'stem 7x7/2, 3 -> 64', x: [1, 32, 32, 3], k: 7, cout: 64, stride: 2, pad: 3 },
  { name: 'stem 7x7/2, 4 -> 64, odd size', x: [3, 13, 11, 4], k: 7, cout: 64, stride: 2, pad: 3 },
  { name: 'layer1 3x3/1, 64 -> 64', x: [3, 8, 8, 64], k: 3, cout: 64, stride: 1, pad: 1 },
  { name: 'layer2 3x3/1, 128 -> 128', x: [1, 4, 4, 128], k: 3, cout: 128, stride: 1, pad: 1 },
  { name: 'layer2 3x3/2, 64 -> 128', x: [3, 8, 8, 64], k: 3, cout: 128, stride: 2, pad: 1 },
  { name: 'layer2 downsample 1x1/2, 64 -> 128', x: [3, 8, 8, 64], k: 1, cout: 128, stride: 2, pad: 0 },
  { name: 'decoder 3x3/1, 96 -> 32', x: [1, 16, 16, 96], k: 3, cout: 32, stride: 1, pad: 1 },
  { name: 'decoder 3x3/1, 48 -> 16', x: [3, 16, 16, 48], k: 3, cout: 16, stride: 1, pad: 1 },
  { name: 'decoder 3x3/1, 16 -> 16', x: [1, 32, 32, 16], k: 3, cout: 16, stride: 1, pad: 1 },
  { name: 'head 3x3/1 with bias, 16 -> 1', x: [3, 32, 32, 16], k: 3, cout: 1, stride: 1, pad: 1, bias: true },
  { name: '3x3/1, 5 -> 7, 13x11', x: [3, 13, 11, 5], k: 3, cout: 7, stride: 1, pad: 1 },
  { name: '3x3/2, 5 -> 7, 7x9', x: [1, 7, 9, 5], k: 3, cout: 7, stride: 2, pad: 1 },
  { name: '3x3/2, 8 -> 12, 13x11', x: [3, 13, 11, 8], k: 3, cout: 12, stride: 2, pad: 1 },
  { name: '3x3/2 unpadded, 6 -> 4, 8x9 (last row and column unread)', x: [1, 8, 9, 6], k: 3, cout: 4, stride: 2, pad: 0 },
  { name: '1x1/2, 12 -> 8, 7x9 (odd rows and columns unread)', x: [3, 7, 9, 12], k: 1, cout: 8, stride: 2, pad: 0 },
];

export function geometry(c: Case): Conv2dGeometry {
  return conv2dGeometry(c.x, [c.k, c.k, c.x[3], c.cout], c.stride, c.pad, !!c.bias);
}

/** Fills a pooled buffer of `size` floats with NaN and frees it: the next kernel output of that size class
 * reuses it, so an element the kernel fails to write shows up as NaN. */
export function poisonPool(be: WebGpuBackend, size: number): void {
  be.free(be.fill(Number.NaN, size));
}

/** Cases the tuning candidates are checked on: stem, stride 2, downsample, narrow decoder, head, odd channels. */
export const TUNING_CASES = [1, 4, 5, 7, 9, 12].map((k) => CASES[k]!);
