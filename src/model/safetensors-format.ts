// safetensors: the weight format gpuseg reads and writes as its own. The layout, little-endian throughout:
//
//   u64 N | N bytes of JSON header | tensor bytes
//
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}, offsets counted from
// the first byte after the header, plus an optional "__metadata__" object of string pairs. Files come
// from anywhere, so every field is checked before a byte is read: a bad file is a one-line
// WeightFileError naming the file, never a RangeError from a DataView.
//
// This module is the format alone (bytes in, bytes out), so that a browser page reads weights with it;
// src/model/safetensors.ts adds the files.
import { InputError, errorMessage } from '../util/errors.js';

/** A tensor as it travels between files and the model: float32 weights, int64 counters. */
export interface NamedTensor {
  dtype: 'F32' | 'I64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** The element types a weight file may hold; each decodes to F32 or I64 (see decodeTensorBytes). */
export type StoredDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64';

export const ELEMENT_BYTES: Readonly<Record<StoredDtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };

/** A weight file that cannot be read or written; the message is one line and names the file. */
export class WeightFileError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'WeightFileError';
  }
}

const HEADER_LENGTH_BYTES = 8;
/** Header lengths are padded to this so the tensor bytes start aligned for every dtype we write. */
const HEADER_ALIGNMENT = 8;
const METADATA_KEY = '__metadata__';
const SPACE = 0x20;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function isStoredDtype(value: unknown): value is StoredDtype {
  return typeof value === 'string' && Object.hasOwn(ELEMENT_BYTES, value);
}

// ---------------------------------------------------------------------------------------------------
// Element decoding, shared with the PyTorch reader.

// One float32 seen as its bits: bfloat16 is the top half of a float32.
const bitsScratch = new Uint32Array(1);
const floatScratch = new Float32Array(bitsScratch.buffer);

function bfloat16ToFloat32(bits: number): number {
  bitsScratch[0] = (bits & 0xffff) << 16;
  return floatScratch[0];
}

/** IEEE half precision: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. */
function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals: no implicit leading 1
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Raw tensor bytes to elements: floats of any width become float32, int64 stays int64. Reads through a
 * DataView, so the bytes need no alignment and the host's byte order does not matter.
 */
export function decodeTensorBytes(bytes: Uint8Array, dtype: StoredDtype, littleEndian = true): Float32Array | BigInt64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = Math.floor(bytes.byteLength / ELEMENT_BYTES[dtype]);
  if (dtype === 'I64') {
    const out = new BigInt64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, littleEndian);
    return out;
  }
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, littleEndian);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, littleEndian);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32(view.getUint16(2 * i, littleEndian));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bfloat16ToFloat32(view.getUint16(2 * i, littleEndian));
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Reading.

interface HeaderEntry {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  begin: number;
  end: number;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseEntry(name: string, raw: unknown, dataBytes: number, fail: (problem: string) => never): HeaderEntry {
  if (!isPlainObject(raw)) fail(`tensor '${name}': header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (!isStoredDtype(dtype)) fail(`tensor '${name}': unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of sizes`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail(`tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataBytes) {
    fail(`tensor '${name}': data_offsets [${begin}, ${end}] out of range of the ${dataBytes}-byte data section`);
  }
  const needed = elementCount(shape) * ELEMENT_BYTES[dtype];
  if (end - begin !== needed) {
    fail(`tensor '${name}': data_offsets span ${end - begin} bytes but ${dtype} [${shape.join(', ')}] needs ${needed}`);
  }
  return { name, dtype, shape: [...shape], begin, end };
}

function parseMetadata(raw: unknown, fail: (problem: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    fail(`${METADATA_KEY} is not an object of strings`);
  }
  return { ...(raw as Record<string, string>) };
}

/**
 * The tensors must tile the data section exactly, as the format requires: no two share bytes (empty
 * tensors own none), no hole between them, nothing after the last. A header length that is off by a
 * byte or two still parses as JSON (the header is padded with spaces), and would read every tensor a
 * byte off: the tiling catches it.
 */
function checkTiling(entries: HeaderEntry[], dataBytes: number, fail: (problem: string) => never): void {
  const filled = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  const span = (e: HeaderEntry): string => `'${e.name}' [${e.begin}, ${e.end}]`;
  let covered = 0;
  for (const [i, e] of filled.entries()) {
    if (e.begin < covered) fail(`tensors ${span(filled[i - 1]!)} and ${span(e)} overlap`);
    if (e.begin > covered) fail(`${e.begin - covered} byte(s) of the data section before tensor ${span(e)} belong to no tensor (is the header length right?)`);
    covered = e.end;
  }
  if (covered !== dataBytes) fail(`${dataBytes - covered} byte(s) after the last tensor's data (is the header length right?)`);
}

/**
 * The first name that appears twice among the header's top-level keys, or null. JSON.parse keeps the
 * last of duplicate keys without a word, so the text itself is scanned: strings are skipped whole, and a
 * string at depth 1 followed by ':' is a key.
 */
export function duplicateTopLevelKey(json: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (json[k] === ' ' || json[k] === '\n' || json[k] === '\r' || json[k] === '\t') k++;
        if (json[k] === ':') {
          const key = JSON.parse(json.slice(i, j + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = j;
    }
  }
  return null;
}

/** Tensors and the free-form string metadata of a safetensors file. */
export function readSafetensorsWithMetadata(
  bytes: Uint8Array,
  source = 'safetensors',
): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const fail: (problem: string) => never = (problem) => {
    throw new WeightFileError(`${source}: ${problem}`);
  };
  if (bytes.byteLength < HEADER_LENGTH_BYTES) {
    fail(`truncated: ${bytes.byteLength} bytes, too short for the ${HEADER_LENGTH_BYTES}-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  const available = bytes.byteLength - HEADER_LENGTH_BYTES;
  if (headerLength > BigInt(available)) {
    fail(`header length ${headerLength} runs past the end of the file (${available} bytes follow it)`);
  }
  const dataStart = HEADER_LENGTH_BYTES + Number(headerLength);
  let header: unknown;
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_LENGTH_BYTES, dataStart));
    header = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON (${errorMessage(err)})`);
  }
  if (!isPlainObject(header)) return fail('header is not a JSON object');
  const twice = duplicateTopLevelKey(text);
  if (twice !== null) fail(`tensor '${twice}' appears twice in the header`);

  const dataBytes = bytes.byteLength - dataStart;
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, raw]) => parseEntry(name, raw, dataBytes, fail));
  checkTiling(entries, dataBytes, fail);

  const tensors = new Map<string, NamedTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    const data = decodeTensorBytes(bytes.subarray(dataStart + begin, dataStart + end), dtype);
    tensors.set(name, { dtype: dtype === 'I64' ? 'I64' : 'F32', shape, data });
  }
  return { tensors, metadata: parseMetadata(header[METADATA_KEY], fail) };
}

export function readSafetensors(bytes: Uint8Array, source = 'safetensors'): Map<string, NamedTensor> {
  return readSafetensorsWithMetadata(bytes, source).tensors;
}

// ---------------------------------------------------------------------------------------------------
// Writing.

function checkTensor(name: string, t: NamedTensor): void {
  if (name === METADATA_KEY) throw new Error(`safetensors: '${METADATA_KEY}' cannot name a tensor`);
  if (!t.shape.every((d) => isCount(d))) throw new Error(`safetensors: tensor '${name}' has shape [${t.shape.join(', ')}]`);
  const typeMatches = t.dtype === 'F32' ? t.data instanceof Float32Array : t.data instanceof BigInt64Array;
  if (!typeMatches) throw new Error(`safetensors: tensor '${name}' is ${t.dtype} but holds a ${t.data.constructor.name}`);
  const count = elementCount(t.shape);
  if (t.data.length !== count) {
    const shape = t.shape.join(', ');
    throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values for shape [${shape}] (${count})`);
  }
}

/** The file's bytes: keys in sorted order, data in the same order, header padded with spaces. */
export function encodeSafetensors(
  tensors: Map<string, NamedTensor> | [string, NamedTensor][],
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const [name, t] of entries) {
    checkTensor(name, t);
    if (Object.hasOwn(header, name)) throw new Error(`safetensors: tensor '${name}' appears twice`);
    const size = t.data.length * ELEMENT_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
  const dataStart = HEADER_LENGTH_BYTES + headerLength;

  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, HEADER_LENGTH_BYTES);
  out.fill(SPACE, HEADER_LENGTH_BYTES + json.byteLength, dataStart);
  let at = dataStart;
  for (const [, { data }] of entries) {
    if (data instanceof BigInt64Array) {
      for (let i = 0; i < data.length; i++, at += 8) view.setBigInt64(at, data[i], true);
    } else {
      for (let i = 0; i < data.length; i++, at += 4) view.setFloat32(at, data[i], true);
    }
  }
  return out;
}
