/// <reference lib="dom" />
// Pixels in and out of the page: an image file to the network's RGB input, a probability map to grey, and
// the overlay. Decoding and resizing use the browser's own (createImageBitmap, canvas); for an 8-bit
// image already at the model size nothing is resized and the input is the very floats `gpuseg predict`
// feeds (byte / 255), so the probabilities agree. A resize is the browser's smoothing, close to but not
// the same as sharp's linear kernel in predict.

const RGB = 3;
const RGBA = 4;
const BYTE_MAX = 255;
/** As predict's overlay (src/data/overlay.ts): defect pixels half red over the image. */
const TINT = [255, 0, 0] as const;
const TINT_ALPHA = 0.5;

/** The file as decoded pixels, without colour management or premultiplied alpha (sharp applies neither). */
export function decodeImage(file: Blob): Promise<ImageBitmap> {
  return createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

/** A 2-D context to read pixels back from; fails loudly rather than drawing nothing. */
function context2d(canvas: HTMLCanvasElement | OffscreenCanvas): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser gave no 2-D canvas context');
  return ctx as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;
}

/** RGBA bytes of `image` drawn at width x height (smoothed when that is a resize). */
function rgbaAt(image: CanvasImageSource, width: number, height: number): Uint8ClampedArray {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = context2d(canvas);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height).data;
}

/** The network's input: size x size x 3 floats in [0, 1], HWC, alpha dropped (as readImage does). */
export function modelInput(image: ImageBitmap, size: number): Float32Array {
  const rgba = rgbaAt(image, size, size);
  const rgb = new Float32Array(size * size * RGB);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < RGB; c++) rgb[p * RGB + c] = rgba[p * RGBA + c]! / BYTE_MAX;
  }
  return rgb;
}

/** 8-bit grey of a probability, as predict's probability PNG. */
function grey(p: number): number {
  return Math.round(Math.min(1, Math.max(0, p)) * BYTE_MAX);
}

/** Draws the size x size probability map in grey (the canvas shows it scaled up by CSS). */
export function drawProbability(canvas: HTMLCanvasElement, probability: Float32Array, size: number): void {
  canvas.width = size;
  canvas.height = size;
  const image = new ImageData(size, size);
  for (let p = 0; p < size * size; p++) {
    const v = grey(probability[p]!);
    image.data.set([v, v, v, BYTE_MAX], p * RGBA);
  }
  context2d(canvas).putImageData(image, 0, 0);
}

/**
 * Draws the image at its own size with the pixels whose probability exceeds `threshold` tinted. The map
 * is brought to the image's size by the canvas's bilinear smoothing (predict: sharp's linear resize).
 */
export function drawOverlay(canvas: HTMLCanvasElement, image: ImageBitmap, probabilityMap: HTMLCanvasElement, threshold: number): void {
  const { width, height } = image;
  canvas.width = width;
  canvas.height = height;
  const pixels = rgbaAt(image, width, height);
  const map = rgbaAt(probabilityMap, width, height);
  const cut = threshold * BYTE_MAX;
  const out = new ImageData(width, height);
  for (let p = 0; p < width * height; p++) {
    const defect = map[p * RGBA]! > cut;
    for (let c = 0; c < RGB; c++) {
      const v = pixels[p * RGBA + c]!;
      out.data[p * RGBA + c] = defect ? Math.round((1 - TINT_ALPHA) * v + TINT_ALPHA * TINT[c]!) : v;
    }
    out.data[p * RGBA + RGB] = BYTE_MAX;
  }
  context2d(canvas).putImageData(out, 0, 0);
}

/** Draws the image itself at its own size. */
export function drawImage(canvas: HTMLCanvasElement, image: ImageBitmap): void {
  canvas.width = image.width;
  canvas.height = image.height;
  context2d(canvas).drawImage(image, 0, 0);
}
