import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NamedTensor,
  WeightFileError,
  encodeSafetensors,
  loadSafetensors,
  readSafetensors,
  readSafetensorsWithMetadata,
  saveSafetensors,
} from '../../src/model/safetensors.js';

const SOURCE = 'weights.safetensors';

const startsWithPath = (path: string): RegExp => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `);

/** A file from a header (object, or raw text) and a data section of `data` bytes. */
function rawFile(header: unknown, data: Uint8Array | number = 0, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function u16s(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  values.forEach((v, i) => new DataView(out.buffer).setUint16(2 * i, v, true));
  return out;
}

/** The error `read` throws: a WeightFileError on one line that starts with the file's name. */
function readError(bytes: Uint8Array): string {
  try {
    readSafetensors(bytes, SOURCE);
  } catch (err) {
    expect(err).toBeInstanceOf(WeightFileError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${SOURCE}: `)).toBe(true);
    return message;
  }
  throw new Error('expected the read to fail');
}

const f32 = (shape: number[], values: number[]): NamedTensor => ({ dtype: 'F32', shape, data: Float32Array.from(values) });
const i64 = (shape: number[], values: bigint[]): NamedTensor => ({ dtype: 'I64', shape, data: BigInt64Array.from(values) });

const TENSORS = new Map<string, NamedTensor>([
  ['decoder.blocks.0.conv1.0.weight', f32([2, 3], [1, -2, 3.5, 1e-30, -0, 65504.25])],
  ['scalar', f32([], [Math.fround(Math.PI)])],
  ['empty', f32([0], [])],
  ['empty2d', f32([0, 4], [])],
  ['a.column', f32([1, 1, 5], [0.1, 0.2, 0.3, 0.4, 0.5].map(Math.fround))],
  ['encoder.bn1.num_batches_tracked', i64([], [123456789012345n])],
  ['counts', i64([3], [-1n, 0n, 2n ** 63n - 1n])],
]);

function expectSameTensors(actual: Map<string, NamedTensor>, expected: Map<string, NamedTensor>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, t] of expected) {
    const got = actual.get(name)!;
    expect(got.dtype, name).toBe(t.dtype);
    expect(got.shape, name).toEqual(t.shape);
    expect(got.data.constructor, name).toBe(t.data.constructor);
    expect(Array.from(got.data as ArrayLike<unknown>), name).toEqual(Array.from(t.data as ArrayLike<unknown>));
  }
}

describe('safetensors round trip', () => {
  it('reads back F32 and I64 tensors of every shape, with metadata', () => {
    const bytes = encodeSafetensors(TENSORS, { format: 'pt', step: '42' });
    const { tensors, metadata } = readSafetensorsWithMetadata(bytes, SOURCE);
    expectSameTensors(tensors, TENSORS);
    expect(metadata).toEqual({ format: 'pt', step: '42' });
  });

  it('writes a space-padded header of a multiple of 8 bytes, keys and data in sorted order', () => {
    const bytes = encodeSafetensors([...TENSORS].reverse());
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(text.trimEnd().length).toBeGreaterThan(0);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const header = JSON.parse(text) as Record<string, { data_offsets: [number, number] }>;
    const names = Object.keys(header);
    expect(names).toEqual([...TENSORS.keys()].sort());
    const begins = names.map((n) => header[n].data_offsets[0]);
    expect(begins).toEqual([...begins].sort((a, b) => a - b));
    expect(bytes.length).toBe(8 + headerLength + header[names.at(-1)!].data_offsets[1]);
  });

  it('accepts [name, tensor] pairs and refuses tensors that do not match their shape or dtype', () => {
    expectSameTensors(readSafetensors(encodeSafetensors([['x', f32([2], [1, 2])]])), new Map([['x', f32([2], [1, 2])]]));
    expect(() => encodeSafetensors([['x', f32([3], [1, 2])]])).toThrow(/'x' has 2 values for shape \[3\]/);
    expect(() => encodeSafetensors([['x', { dtype: 'I64', shape: [1], data: new Float32Array(1) }]])).toThrow(/I64/);
    expect(() => encodeSafetensors([['x', f32([1], [1])], ['x', f32([1], [2])]])).toThrow(/twice/);
  });

  describe('on disk', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gpuseg-safetensors-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('saves atomically (no temporary file left) and overwrites in place', async () => {
      const path = join(dir, 'model.safetensors');
      await saveSafetensors(path, new Map([['old', f32([1], [1])]]));
      await saveSafetensors(path, TENSORS, { note: 'second' });
      expect(await readdir(dir)).toEqual(['model.safetensors']);
      expectSameTensors(await loadSafetensors(path), TENSORS);
    });

    it('names the file when it cannot be written or read', async () => {
      const path = join(dir, 'missing-folder', 'model.safetensors');
      await expect(saveSafetensors(path, TENSORS)).rejects.toThrow(/cannot write/);
      await expect(saveSafetensors(path, TENSORS)).rejects.toThrow(startsWithPath(path));
      await expect(loadSafetensors(path)).rejects.toThrow(/cannot read/);
      await expect(loadSafetensors(path)).rejects.toThrow(startsWithPath(path));
      const truncated = join(dir, 'truncated.safetensors');
      await writeFile(truncated, encodeSafetensors(TENSORS).subarray(0, 50));
      await expect(loadSafetensors(truncated)).rejects.toThrow(startsWithPath(truncated));
    });
  });
});

describe('safetensors half-precision decoding', () => {
  it('converts F16 to float32: normals, the largest finite, subnormals, zeros, infinities, NaN', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc100, -2.5],
      [0x7bff, 65504],
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x3555, Math.fround(0.333251953125)],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, NaN],
    ];
    const header = { h: { dtype: 'F16', shape: [cases.length], data_offsets: [0, 2 * cases.length] } };
    const file = rawFile(header, u16s(cases.map(([bits]) => bits)));
    const t = readSafetensors(file, SOURCE).get('h')!;
    expect(t.dtype).toBe('F32');
    expect(Array.from(t.data as Float32Array)).toEqual(cases.map(([, v]) => v));
  });

  it('converts BF16 to float32: the top half of a float32', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc020, -2.5],
      [0x4049, 3.140625],
      [0x7f7f, 3.3895313892515355e38], // largest finite
      [0x0001, 2 ** -133], // smallest subnormal
      [0x8000, -0],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x7fc0, NaN],
    ];
    const file = rawFile({ b: { dtype: 'BF16', shape: [3, 3], data_offsets: [0, 18] } }, u16s(cases.map(([b]) => b)));
    const t = readSafetensors(file, SOURCE).get('b')!;
    expect(t.shape).toEqual([3, 3]);
    expect(Array.from(t.data as Float32Array)).toEqual(cases.map(([, v]) => v));
  });

  it('reads F64 as float32 and keeps I64 exact', () => {
    const data = new Uint8Array(24 + 8);
    const view = new DataView(data.buffer);
    [0.1, -1e300, 2.5].forEach((v, i) => view.setFloat64(8 * i, v, true));
    view.setBigInt64(24, -(2n ** 62n), true);
    const header = {
      d: { dtype: 'F64', shape: [3], data_offsets: [0, 24] },
      n: { dtype: 'I64', shape: [], data_offsets: [24, 32] },
    };
    const file = rawFile(header, data);
    const tensors = readSafetensors(file, SOURCE);
    expect(Array.from(tensors.get('d')!.data as Float32Array)).toEqual([Math.fround(0.1), -Infinity, 2.5]);
    expect(tensors.get('n')!.data).toEqual(BigInt64Array.from([-(2n ** 62n)]));
  });
});

describe('safetensors corruption', () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number): unknown => ({
    dtype,
    shape,
    data_offsets: [begin, end],
  });

  it('refuses a file too short for its header length', () => {
    expect(readError(new Uint8Array(5))).toMatch(/truncated: 5 bytes/);
  });

  it('refuses a header length beyond the file', () => {
    expect(readError(rawFile({}, 0, 1000n))).toMatch(/header length 1000 runs past the end of the file/);
    expect(readError(rawFile({}, 0, 2n ** 64n - 1n))).toMatch(/runs past the end/);
  });

  it('refuses a header that is not JSON, or not an object', () => {
    expect(readError(rawFile('{"x": {'))).toMatch(/header is not valid JSON/);
    expect(readError(rawFile('[1, 2]'))).toMatch(/header is not a JSON object/);
    expect(readError(rawFile({ x: 3 }))).toMatch(/tensor 'x': header entry is not an object/);
  });

  it('refuses an unknown dtype', () => {
    expect(readError(rawFile({ x: entry('Q4', [2], 0, 2) }, 2))).toMatch(/tensor 'x': unknown dtype "Q4"/);
  });

  it('refuses bad shapes and offsets', () => {
    expect(readError(rawFile({ x: entry('F32', [-1], 0, 4) }, 4))).toMatch(/tensor 'x': shape \[-1\]/);
    expect(readError(rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4))).toMatch(/not a \[begin, end\] pair/);
    expect(readError(rawFile({ x: entry('F32', [2], 0, 8) }, 4))).toMatch(
      /tensor 'x': data_offsets \[0, 8\] out of range of the 4-byte data section/,
    );
    expect(readError(rawFile({ x: entry('F32', [1], 8, 4) }, 8))).toMatch(/out of range/);
  });

  it('refuses offsets whose span does not match shape and dtype', () => {
    expect(readError(rawFile({ x: entry('F32', [2, 2], 0, 12) }, 16))).toMatch(
      /tensor 'x': data_offsets span 12 bytes but F32 \[2, 2\] needs 16/,
    );
  });

  it('refuses overlapping tensors', () => {
    const header = { a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) };
    expect(readError(rawFile(header, 12))).toMatch(/tensors 'a' \[0, 8\] and 'b' \[4, 12\] overlap/);
  });

  it('refuses holes and bytes after the last tensor: a header length off by one reads every tensor a byte off', () => {
    expect(readError(rawFile({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, 12))).toMatch(
      /4 byte\(s\) of the data section before tensor 'b' \[8, 12\] belong to no tensor/,
    );
    expect(readError(rawFile({ a: entry('F32', [1], 0, 4) }, 5))).toMatch(/1 byte\(s\) after the last tensor's data/);
    // Our own writer pads the header with spaces; one byte less of header length still parses as JSON.
    const good = encodeSafetensors(TENSORS);
    const view = new DataView(good.buffer, good.byteOffset);
    const length = view.getBigUint64(0, true);
    expect(new TextDecoder().decode(good.subarray(8 + Number(length) - 1, 8 + Number(length)))).toBe(' ');
    const shifted = new Uint8Array(good);
    new DataView(shifted.buffer).setBigUint64(0, length - 1n, true);
    expect(readError(shifted)).toMatch(/1 byte\(s\) after the last tensor's data \(is the header length right\?\)/);
  });

  it('refuses a name that appears twice in the header (JSON.parse would keep the last)', () => {
    const a = JSON.stringify(entry('F32', [1], 0, 4));
    expect(readError(rawFile(`{"x": ${a}, "y": {"x": 1}, "x": ${a}}`, 4))).toMatch(/tensor 'x' appears twice in the header/);
    expect(readError(rawFile(`{"a\\"b": ${a}, "a\\u0022b" : ${a}}`, 4))).toMatch(/tensor 'a"b' appears twice/);
    // A key repeated inside an entry is not a duplicate tensor.
    expect(() => readSafetensors(rawFile(`{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": {"x": "1"}}`, 4), SOURCE)).not.toThrow();
  });

  it('refuses metadata that is not strings', () => {
    expect(readError(rawFile({ __metadata__: { step: 3 } }))).toMatch(/__metadata__ is not an object of strings/);
  });

  it('refuses a file cut short in its data', () => {
    const bytes = encodeSafetensors(TENSORS);
    expect(readError(bytes.subarray(0, bytes.length - 3))).toMatch(/out of range/);
  });
});
