// Turning images into network inputs: ImageNet-normalised RGB plus a zero fourth channel (the stem
// reads whole vec4s), NHWC, batched. Host-side data preparation, like a data loader.
import { normalizeImageNet, randomFlipRot } from '../data/index.js';
import { INPUT_CHANNELS } from '../model/unet.js';
import type { Rng } from '../util/random.js';

const RGB = 3;

/** An image (HWC RGB in [0,1]) and its mask (HW, 0/1), at the training size. */
export interface Sample {
  image: Float32Array;
  mask: Uint8Array;
}

/** Writes one normalised RGB image into a batch's 4-channel input at sample `index`. */
export function packInput(batch: Float32Array, index: number, rgb: Float32Array, size: number): void {
  const norm = normalizeImageNet(rgb);
  const pixels = size * size;
  const base = index * pixels * INPUT_CHANNELS;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < RGB; c++) batch[base + p * INPUT_CHANNELS + c] = norm[p * RGB + c]!;
    batch[base + p * INPUT_CHANNELS + RGB] = 0;
  }
}

/** A batch of `count` samples drawn with replacement, each flipped/rotated at random. */
export function augmentedBatch(samples: Sample[], count: number, size: number, r: Rng): { input: Float32Array; target: Float32Array } {
  const pixels = size * size;
  const input = new Float32Array(count * pixels * INPUT_CHANNELS);
  const target = new Float32Array(count * pixels);
  for (let i = 0; i < count; i++) {
    const s = samples[Math.floor(r() * samples.length)]!;
    const { image, mask } = randomFlipRot(s.image, s.mask, size, RGB, r);
    packInput(input, i, image, size);
    target.set(mask, i * pixels);
  }
  return { input, target };
}
