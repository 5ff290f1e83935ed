// A large image through a gpuseg ONNX export in overlapping tiles, as `gpuseg predict --tile` runs it,
// with nothing but ONNX Runtime and sharp: the reference for using an exported model on images larger
// than its input. README.md ("Large images with the ONNX model") states the recipe; this is it in code,
// and test/export/onnx-tiles.test.ts checks that it gives gpuseg's own probability map.
//
//   npm install onnxruntime-node sharp
//   node onnx-tiled.mjs MODEL.onnx IMAGE OUT_prob.png --tile N [--scale S]
//
// N and S are the run's (config.json `tile` and `scale`; `gpuseg export --onnx` also writes them into
// the file's metadata as gpuseg.tile and gpuseg.scale). The model must have been exported at size N.
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

/** 1. The image as RGB bytes, upright (EXIF), at its size times the scale (linear kernel, rounded sides). */
async function readScaled(path, scale) {
  const upright = sharp(path).rotate().removeAlpha().toColourspace('srgb');
  const { width, height } = await upright.clone().raw().toBuffer({ resolveWithObject: true }).then((r) => r.info);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const resized = w === width && h === height ? upright : upright.resize(w, h, { fit: 'fill', kernel: 'linear' });
  const { data } = await resized.raw().toBuffer({ resolveWithObject: true });
  return { data, width: w, height: h, nativeWidth: width, nativeHeight: height };
}

/** 2. Tile starts along an axis: stride N - N/4 from 0, the last tile flush with the end. */
function starts(length, tile, overlap) {
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const count = Math.ceil((length - tile) / stride) + 1;
  return [...Array.from({ length: count - 1 }, (_, i) => i * stride), length - tile];
}

/** 3. Each tile's weights along an axis: sin^2 ramps over the overlap where a neighbour meets it, divided by their sum. */
function axisWeights(length, tile, overlap) {
  const s = starts(length, tile, overlap);
  const windows = s.map((_, i) => {
    const w = new Float64Array(tile).fill(1);
    for (let t = 0; t < overlap; t++) {
      const rise = Math.sin(((t / (overlap - 1)) * Math.PI) / 2) ** 2;
      if (i > 0) w[t] = Math.min(w[t], rise);
      if (i < s.length - 1) w[tile - 1 - t] = Math.min(w[tile - 1 - t], rise);
    }
    return w;
  });
  const sum = new Float64Array(length);
  s.forEach((x, i) => { for (let t = 0; t < tile && x + t < length; t++) sum[x + t] += windows[i][t]; });
  return { starts: s, weights: s.map((x, i) => Float32Array.from(windows[i], (v, t) => (x + t < length ? v / sum[x + t] : 0))) };
}

/** 4. Mirror past the right and bottom edges (an image smaller than a tile), without repeating the edge pixel. */
function reflect(i, n) {
  if (i < n || n === 1) return i < n ? i : 0;
  const m = i % (2 * n - 2);
  return m < n ? m : 2 * n - 2 - m;
}

/** The tile at (x0, y0) as NCHW floats, byte / 255. */
function cut(image, x0, y0, tile) {
  const out = new Float32Array(3 * tile * tile);
  for (let y = 0; y < tile; y++) {
    for (let x = 0; x < tile; x++) {
      const from = (reflect(y0 + y, image.height) * image.width + reflect(x0 + x, image.width)) * 3;
      for (let c = 0; c < 3; c++) out[c * tile * tile + y * tile + x] = image.data[from + c] / 255;
    }
  }
  return out;
}

/** 6. Logits resized bilinearly back to the native size (pixel centres aligned, edges clamped). */
function resize(map, width, height, toWidth, toHeight) {
  if (width === toWidth && height === toHeight) return map;
  const axis = (to, from) => Array.from({ length: to }, (_, i) => {
    const f = Math.min(from - 1, Math.max(0, ((i + 0.5) * from) / to - 0.5));
    const lo = Math.floor(f);
    return [lo, Math.min(from - 1, lo + 1), f - lo];
  });
  const xs = axis(toWidth, width);
  const ys = axis(toHeight, height);
  const out = new Float32Array(toWidth * toHeight);
  for (let y = 0; y < toHeight; y++) {
    const [y0, y1, ty] = ys[y];
    for (let x = 0; x < toWidth; x++) {
      const [x0, x1, tx] = xs[x];
      const top = map[y0 * width + x0] * (1 - tx) + map[y0 * width + x1] * tx;
      const bottom = map[y1 * width + x0] * (1 - tx) + map[y1 * width + x1] * tx;
      out[y * toWidth + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** The W x H probability bytes of an image through the model in tiles. */
export async function tiledProbability(modelPath, imagePath, tile, scale = 1) {
  const image = await readScaled(imagePath, scale);
  const overlap = Math.max(2, Math.floor(tile / 4));
  const xs = axisWeights(image.width, tile, overlap);
  const ys = axisWeights(image.height, tile, overlap);
  const session = await ort.InferenceSession.create(modelPath);
  const logits = new Float32Array(image.width * image.height);
  try {
    for (let iy = 0; iy < ys.starts.length; iy++) {
      for (let ix = 0; ix < xs.starts.length; ix++) {
        const [x0, y0] = [xs.starts[ix], ys.starts[iy]];
        const input = new ort.Tensor('float32', cut(image, x0, y0, tile), [1, 3, tile, tile]);
        // 5. Blend the tiles' logits (not probabilities) with the product of the two axes' weights.
        const out = (await session.run({ image: input })).logit.data;
        for (let y = 0; y < tile && y0 + y < image.height; y++) {
          for (let x = 0; x < tile && x0 + x < image.width; x++) {
            logits[(y0 + y) * image.width + x0 + x] += ys.weights[iy][y] * xs.weights[ix][x] * out[y * tile + x];
          }
        }
      }
    }
  } finally {
    await session.release();
  }
  const native = resize(logits, image.width, image.height, image.nativeWidth, image.nativeHeight);
  // 7. The sigmoid, as 8-bit probabilities.
  const bytes = new Uint8Array(native.length);
  for (let i = 0; i < native.length; i++) bytes[i] = Math.round(255 / (1 + Math.exp(-native[i])));
  return { data: bytes, width: image.nativeWidth, height: image.nativeHeight };
}

async function main(args) {
  const flag = (name) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const [value] = args.splice(i, 2).slice(1);
    return Number(value);
  };
  const tile = flag('--tile');
  const scale = flag('--scale') ?? 1;
  if (args.length !== 3 || !(tile >= 32 && tile % 32 === 0) || !(scale > 0)) {
    process.stderr.write('usage: node onnx-tiled.mjs MODEL.onnx IMAGE OUT_prob.png --tile N [--scale S] (N a multiple of 32)\n');
    process.exit(2);
  }
  const [model, image, out] = args;
  const map = await tiledProbability(model, image, tile, scale);
  await sharp(Buffer.from(map.data), { raw: { width: map.width, height: map.height, channels: 1 } }).toColourspace('b-w').png().toFile(out);
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
