// The distinct layer shapes of the ResNet-34 UNet (segmentation_models_pytorch `Unet("resnet34")`,
// decoder channels 256, 128, 64, 32, 16) at batch n and input size s, for the kernel benchmarks and the tuner.
// The stem's 3 input channels are padded to 4 (the conv kernels' vec4 path).
import type { Conv2dGeometry, PoolGeometry, SpatialGeometry } from '../core/geometry.js';
import { conv2dGeometry, poolGeometry } from '../core/geometry.js';
import { DECODER_CHANNELS as DECODER, ENCODER_LAYERS as ENCODER, INPUT_CHANNELS } from './unet.js';

export interface ConvLayer {
  name: string;
  g: Conv2dGeometry;
  /** How many convs of the network have this geometry (a forward pass runs each once). */
  count: number;
}

export interface UnetShapes {
  convs: ConvLayer[];
  /** Batch-norm inputs (NHWC), one per distinct shape. */
  norms: SpatialGeometry[];
  pool: PoolGeometry;
  /** Upsample inputs. */
  upsamples: SpatialGeometry[];
  /** Concats: upsampled decoder input (c = its channels) and skip channels. */
  concats: { g: SpatialGeometry; ca: number; cb: number }[];
  /** Logits of the head: n x s x s x 1. */
  logits: SpatialGeometry;
}

export function unetShapes(n: number, s: number): UnetShapes {
  if (s % 32 !== 0) throw new Error(`unet shapes: the input size must be a multiple of 32, got ${s}`);
  const convs = new Map<string, ConvLayer>();
  const norms = new Map<string, SpatialGeometry>();
  const conv = (name: string, h: number, cin: number, cout: number, k: number, stride: number, bias = false): number => {
    const g = conv2dGeometry([n, h, h, cin], [k, k, cin, cout], stride, (k - 1) / 2, bias);
    const key = JSON.stringify(g);
    const seen = convs.get(key);
    if (seen) seen.count++;
    else convs.set(key, { name, g, count: 1 });
    if (!bias) norms.set(`${g.oh}x${cout}`, { n, h: g.oh, w: g.ow, c: cout });
    return g.oh;
  };

  let h = conv('stem 7x7/2', s, INPUT_CHANNELS, 64, 7, 2);
  const pool = poolGeometry([n, h, h, 64], 3, 2, 1);
  h = pool.oh;
  const skips: { h: number; c: number }[] = [{ h: s / 2, c: 64 }];
  let cin = 64;
  ENCODER.forEach(({ channels, blocks }, li) => {
    for (let b = 0; b < blocks; b++) {
      const stride = li > 0 && b === 0 ? 2 : 1;
      if (stride === 2) conv(`layer${li + 1} downsample 1x1/2`, h, cin, channels, 1, 2);
      const oh = conv(`layer${li + 1} 3x3/${stride}`, h, cin, channels, 3, stride);
      conv(`layer${li + 1} 3x3`, oh, channels, channels, 3, 1);
      h = oh;
      cin = channels;
    }
    skips.push({ h, c: channels });
  });

  const upsamples: SpatialGeometry[] = [];
  const concats: UnetShapes['concats'] = [];
  // Deepest feature first; each decoder block takes the next shallower skip (none for the last).
  const skipList = skips.slice(0, -1).reverse();
  DECODER.forEach((cout, i) => {
    upsamples.push({ n, h, w: h, c: cin });
    h *= 2;
    const skip = skipList[i];
    if (skip) concats.push({ g: { n, h, w: h, c: cin }, ca: cin, cb: skip.c });
    conv(`decoder${i} 3x3 a`, h, cin + (skip?.c ?? 0), cout, 3, 1);
    conv(`decoder${i} 3x3 b`, h, cout, cout, 3, 1);
    cin = cout;
  });
  conv('head 3x3 + bias', h, cin, 1, 3, 1, true);
  return { convs: [...convs.values()], norms: [...norms.values()], pool, upsamples, concats, logits: { n, h: s, w: s, c: 1 } };
}
