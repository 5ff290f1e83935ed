// Images into the network's input layout: NHWC with a fourth, zero channel, ImageNet-normalised. Apart
// from the batch composer (which needs sharp through src/data/), so that predict and the browser page
// (src/web/) prepare pixels with the same code.
import { dihedralSteps } from '../data/augment.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../data/imagenet.js';
import { INPUT_CHANNELS } from '../model/unet.js';

const RGB = 3;
const BYTE_MAX = 255;

/**
 * Writes an RGB image into sample `index` of a batch's 4-channel input in one pass: turned by dihedral
 * transform t, ImageNet-normalised, the fourth channel zero. `rgb` holds floats in [0, 1], or bytes
 * (each read as the float32 of byte / 255, the value readImage gives).
 */
export function packTurned(batch: Float32Array, index: number, rgb: Float32Array | Uint8Array, size: number, t: number): void {
  const { start, stepX, stepY } = dihedralSteps(t, size);
  const base = index * size * size * INPUT_CHANNELS;
  const bytes = rgb instanceof Uint8Array;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + x) * RGB;
      const to = base + (start + y * stepY + x * stepX) * INPUT_CHANNELS;
      for (let c = 0; c < RGB; c++) {
        const v = bytes ? Math.fround(rgb[from + c]! / BYTE_MAX) : rgb[from + c]!;
        batch[to + c] = (v - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      }
      batch[to + RGB] = 0;
    }
  }
}

/** Writes one RGB image (floats in [0, 1]) into a batch's 4-channel input at sample `index`, normalised. */
export function packInput(batch: Float32Array, index: number, rgb: Float32Array, size: number): void {
  packTurned(batch, index, rgb, size, 0);
}
