// BMP decoding for image.ts, whose sharp (prebuilt libvips) has no BMP loader: the uncompressed
// variants (1/4/8-bit palette, 16/24/32-bit), which are what image tools write.

const RGB_CHANNELS = 3;
const BYTE_MAX = 255;
const BMP_FILE_HEADER = 14;
const BMP_INFO_HEADER = 40;
/** The header's compression values (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS) that this decoder reads. */
const BI = { RGB: 0, BITFIELDS: 3, ALPHABITFIELDS: 6 } as const;

/** Decodes a BMP to 8-bit RGB, top row first; alpha is dropped. Refuses more than `maxPixels` from the header. */
export function decodeBmp(file: Uint8Array, maxPixels: number): { width: number; height: number; rgb: Uint8Array } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < BMP_FILE_HEADER + BMP_INFO_HEADER || view.getUint16(0) !== 0x424d) {
    throw new Error('not a BMP file (or a truncated one)');
  }
  const dataOffset = view.getUint32(10, true);
  const infoSize = view.getUint32(14, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bitsPerPixel = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (infoSize < BMP_INFO_HEADER) throw new Error(`unsupported BMP header of ${infoSize} bytes`);
  const bitfields = compression === BI.BITFIELDS || compression === BI.ALPHABITFIELDS;
  if (compression !== BI.RGB && !bitfields) {
    throw new Error(`unsupported BMP compression ${compression} (RLE or embedded)`);
  }
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0; // a negative height stores the top row first
  if (width <= 0 || height === 0) throw new Error(`BMP of size ${width}x${rawHeight}`);
  if (width * height > maxPixels) throw new Error(`${width}x${height} pixels, more than the ${maxPixels} gpuseg decodes`);
  const stride = Math.ceil((width * bitsPerPixel) / 32) * 4; // rows are padded to 4 bytes
  if (dataOffset + stride * height > file.length) throw new Error('truncated BMP pixel data');

  const readPixel = bmpPixelReader(view, bitsPerPixel, compression, infoSize);
  const rgb = new Uint8Array(width * height * RGB_CHANNELS);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) rgb.set(readPixel(row, x), (y * width + x) * RGB_CHANNELS);
  }
  return { width, height, rgb };
}

type PixelReader = (rowStart: number, x: number) => [number, number, number];

function bmpPixelReader(view: DataView, bitsPerPixel: number, compression: number, infoSize: number): PixelReader {
  switch (bitsPerPixel) {
    case 1:
    case 4:
    case 8: {
      const palette = BMP_FILE_HEADER + infoSize;
      const perByte = 8 / bitsPerPixel;
      const indexMask = (1 << bitsPerPixel) - 1;
      return (row, x) => {
        const byte = view.getUint8(row + Math.floor(x / perByte));
        // Pixels fill a byte from its high bits down.
        const index = (byte >> ((perByte - 1 - (x % perByte)) * bitsPerPixel)) & indexMask;
        const entry = palette + index * 4; // palette entries are B, G, R, reserved
        return [view.getUint8(entry + 2), view.getUint8(entry + 1), view.getUint8(entry)];
      };
    }
    case 24:
      return (row, x) => {
        const at = row + x * 3;
        return [view.getUint8(at + 2), view.getUint8(at + 1), view.getUint8(at)];
      };
    case 16:
    case 32: {
      const bytes = bitsPerPixel / 8;
      // Without BI_BITFIELDS the layouts are fixed: 5-5-5 for 16 bits, 8-8-8 (BGRx) for 32.
      const masks =
        compression === BI.RGB
          ? bitsPerPixel === 16
            ? [0x7c00, 0x03e0, 0x001f]
            : [0xff0000, 0x00ff00, 0x0000ff]
          : [0, 4, 8].map((o) => view.getUint32(BMP_FILE_HEADER + BMP_INFO_HEADER + o, true));
      const channels = masks.map(channelFromMask);
      return (row, x) => {
        const at = row + x * bytes;
        const value = bytes === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
        return [channels[0]!(value), channels[1]!(value), channels[2]!(value)];
      };
    }
    default:
      throw new Error(`unsupported BMP depth of ${bitsPerPixel} bits`);
  }
}

/** Extracts the bits of `mask` from a pixel value and scales them to 0..255. */
function channelFromMask(mask: number): (value: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (value) => Math.round((((value & mask) >>> 0) >>> shift) * (BYTE_MAX / max));
}
