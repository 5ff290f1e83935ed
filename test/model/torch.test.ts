import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpickle } from '../../src/model/pickle.js';
import { PickleCallable } from '../../src/model/pickle-values.js';
import { type NamedTensor, WeightFileError, encodeSafetensors, saveSafetensors } from '../../src/model/safetensors.js';
import { encoderWeightsFromTorchvision, loadEncoderWeights, loadTorchCheckpoint } from '../../src/model/torch.js';
import { type Py, dumps, global, long, tuple } from './fixtures/pickleWriter.js';
import {
  type FakeStateDict,
  fakeDtypeStateDict,
  fakeResnetStateDict,
  legacyPreamble,
  storageBytes,
  torchLegacyBytes,
  torchZipBytes,
} from './fixtures/torchCheckpoint.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gpuseg-torch-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** The error loading `path` gives: a WeightFileError on one line that starts with the path. */
async function loadError(path: string, load: (p: string) => Promise<unknown> = loadTorchCheckpoint): Promise<string> {
  try {
    await load(path);
  } catch (err) {
    expect(err).toBeInstanceOf(WeightFileError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(path)).toBe(true);
    return message;
  }
  throw new Error(`expected loading ${path} to fail`);
}

function expectStateDict(actual: Map<string, NamedTensor>, sd: FakeStateDict): void {
  expect([...actual.keys()]).toEqual([...sd.expected.keys()]);
  for (const [name, expected] of sd.expected) {
    const t = actual.get(name)!;
    expect(t.dtype, name).toBe(expected.dtype);
    expect(t.shape, name).toEqual(expected.shape);
    expect(t.data, name).toBeInstanceOf(expected.dtype === 'I64' ? BigInt64Array : Float32Array);
    expect(Array.from(t.data as ArrayLike<number | bigint>), name).toEqual(expected.values);
  }
}

/** [description, file-name stem, writer] */
const LAYOUTS: [string, string, (sd: FakeStateDict) => Uint8Array][] = [
  ['zip (PyTorch >= 1.6)', 'zip', (sd) => torchZipBytes(sd, { archive: 'resnet34' })],
  ['legacy (PyTorch 1.x, _use_new_zipfile_serialization=False)', 'legacy', (sd) => torchLegacyBytes(sd)],
  [
    'legacy from Python 2 (PyTorch 0.1/0.2, as resnet34-333f7ec4.pth)',
    'py2',
    (sd) => torchLegacyBytes(sd, { python2: true }),
  ],
];

describe.each(LAYOUTS)('torch.save %s', (_label, slug, write) => {
  it('reads every value of a torchvision-like state dict (shared storage, strided view, int64)', async () => {
    const sd = fakeResnetStateDict();
    expectStateDict(await loadTorchCheckpoint(await fixture(`${slug}-resnet.pth`, write(sd))), sd);
  });

  it('converts Half, BFloat16 and Double storages to float32 and keeps Long as int64', async () => {
    const sd = fakeDtypeStateDict();
    expectStateDict(await loadTorchCheckpoint(await fixture(`${slug}-dtypes.pth`, write(sd))), sd);
  });

  it('refuses a file cut short, in one line naming the file', async () => {
    const bytes = write(fakeResnetStateDict());
    for (const keep of [0.2, 0.5, 0.99]) {
      const path = await fixture(`${slug}-cut-${keep}.pth`, bytes.subarray(0, Math.floor(bytes.length * keep)));
      expect(await loadError(path)).toMatch(/truncated|zip/);
    }
  });
});

describe('torch.save zip variants', () => {
  it('reads a dict without _metadata, of Parameters, nested under state_dict or model', async () => {
    const sd = fakeResnetStateDict();
    const variants = [
      torchZipBytes(sd, { withMetadata: false }),
      torchZipBytes(sd, { parameters: true }),
      torchZipBytes(sd, { nestUnder: 'state_dict' }),
      torchZipBytes(sd, { nestUnder: 'model', archive: 'checkpoint_epoch_3' }),
    ];
    for (const [i, bytes] of variants.entries()) {
      expectStateDict(await loadTorchCheckpoint(await fixture(`variant-${i}.pt`, bytes)), sd);
    }
  });

  it('byte-swaps storages of a big-endian file', async () => {
    const sd = fakeDtypeStateDict();
    const records = unzipSync(torchZipBytes(sd));
    records['archive/byteorder'] = new TextEncoder().encode('big');
    for (const [name, bytes] of Object.entries(records)) {
      const match = /data\/(\d+)$/.exec(name);
      if (!match) continue;
      const width = [2, 2, 8, 8, 4][Number(match[1])]; // half, bfloat16, double, long, float
      for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
    }
    expectStateDict(await loadTorchCheckpoint(await fixture('big-endian.pt', zipSync(records, { level: 0 }))), sd);
  });

  it('refuses a missing storage record, a tensor past its storage, and TorchScript archives', async () => {
    const records = unzipSync(torchZipBytes(fakeResnetStateDict()));
    delete records['archive/data/3'];
    expect(await loadError(await fixture('missing.pt', zipSync(records)))).toMatch(/missing storage record archive\/data\/3/);

    const sd = fakeResnetStateDict();
    sd.tensors.find((t) => t.name === 'bn1.bias')!.size = [5];
    expect(await loadError(await fixture('overrun.pt', torchZipBytes(sd)))).toMatch(
      /tensor 'bn1.bias': size \[5\] stride \[1\] at offset 4 reaches past its storage of 8 elements/,
    );

    const script = zipSync({ 'model/constants.pkl': new Uint8Array([0x80, 2, 0x2e]), 'model/code/x.py': new Uint8Array() });
    expect(await loadError(await fixture('script.pt', script))).toMatch(/TorchScript/);
  });
});

describe('the pickle machine', () => {
  const MARKER = (): string => join(dir, 'pwned');
  const evil = (): Py => ({ kind: 'reduce', func: global('os', 'system'), args: tuple(`touch ${MARKER()}`) });

  it('refuses os.system in a zip checkpoint and in a legacy one, running nothing', async () => {
    const zip = await fixture('evil.pt', zipSync({ 'archive/data.pkl': dumps(evil()) }));
    expect(await loadError(zip)).toMatch(/refusing global os\.system/);
    const legacy = new Uint8Array([...legacyPreamble(), ...dumps(evil())]);
    expect(await loadError(await fixture('evil.pth', legacy))).toMatch(/refusing global os\.system/);
    expect(existsSync(MARKER())).toBe(false);
  });

  it('refuses globals outside the whitelist, through GLOBAL and STACK_GLOBAL', () => {
    const options = { source: 'x.pkl', globals: new Map() };
    for (const [module, name] of [['builtins', 'eval'], ['torch', 'load'], ['__builtin__', 'getattr']]) {
      const refusal = `x.pkl: refusing global ${module}.${name} at byte 2`;
      expect(() => unpickle(dumps(global(module, name)), 0, options)).toThrow(refusal);
    }
    // protocol 4: SHORT_BINUNICODE 'os', SHORT_BINUNICODE 'system', STACK_GLOBAL, STOP
    const stackGlobal = new Uint8Array([0x80, 4, 0x8c, 2, ...Buffer.from('os'), 0x8c, 6, ...Buffer.from('system'), 0x93, 0x2e]);
    expect(() => unpickle(stackGlobal, 0, options)).toThrow(/refusing global os\.system at byte 14/);
  });

  it("refuses BUILD state other than an OrderedDict's _metadata, instead of dropping it", () => {
    const options = { source: 'x.pkl', globals: new Map([['collections.OrderedDict', new PickleCallable('collections.OrderedDict', () => new Map())]]) };
    const ordered = (state: Py): Py => ({ kind: 'reduce', func: global('collections', 'OrderedDict'), args: tuple(), state });
    expect(unpickle(dumps(ordered({ kind: 'dict', items: [['_metadata', { kind: 'dict', items: [] }]] })), 0, options).value).toBeInstanceOf(Map);
    expect(() => unpickle(dumps(ordered({ kind: 'dict', items: [['__setstate__', 'os.system']] })), 0, options)).toThrow(
      /x\.pkl: refusing BUILD of a .* with .* state at byte \d+: a state dict sets only _metadata/,
    );
    expect(() => unpickle(dumps(ordered(tuple('payload'))), 0, options)).toThrow(/refusing BUILD/);
  });

  it('reads one APPENDS of 200,000 items (Python batches 1,000) without overflowing the stack', () => {
    const options = { source: 'x.pkl', globals: new Map() };
    // PROTO 2, EMPTY_LIST, MARK, 200,000 x BININT1 n, APPENDS, STOP
    const items = Array.from({ length: 200_000 }, (_, i) => [0x4b, i % 200]).flat();
    const bytes = new Uint8Array([0x80, 2, 0x5d, 0x28, ...items, 0x65, 0x2e]);
    const value = unpickle(bytes, 0, options).value as number[];
    expect(value).toHaveLength(200_000);
    expect(value[199_999]).toBe(199);
  });

  it('refuses opcodes a state dict never needs, naming them', () => {
    const options = { source: 'x.pkl', globals: new Map() };
    // INST 'os\nsystem\n' builds an object by calling a class; OBJ and NEWOBJ likewise.
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x28, 0x69, ...Buffer.from('os\nsystem\n'), 0x2e]), 0, options)).toThrow(
      'x.pkl: refusing pickle opcode INST (0x69) at byte 3',
    );
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x81]), 0, options)).toThrow(/refusing pickle opcode NEWOBJ/);
    expect(() => unpickle(new Uint8Array([0x80, 2, 0xff]), 0, options)).toThrow(/unknown pickle opcode 0xff at byte 2/);
    expect(() => unpickle(new Uint8Array([0x80, 2, 0x4e, 0x51, 0x2e]), 0, options)).toThrow(/refusing BINPERSID at byte 3/);
  });

  it('reads protocol-4 opcodes (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) and every scalar kind', () => {
    const text = (s: string): number[] => [0x8c, s.length, ...Buffer.from(s)];
    const float = [0x47, ...new Uint8Array(new Float64Array([1.5]).buffer).reverse()];
    const body = [
      ...text('collections'), 0x94, ...text('OrderedDict'), 0x94, 0x93, 0x94, // STACK_GLOBAL, memo 2
      0x29, 0x52, 0x94, 0x28, // OrderedDict(), MARK
      ...text('a'), 0x94, ...float,
      ...text('b'), 0x94, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, // LONG1 -2^70
      ...text('c'), 0x94, 0x43, 2, 0x78, 0x79, 0x94, // SHORT_BINBYTES b'xy'
      ...text('d'), 0x94, 0x5d, 0x94, 0x28, 0x4e, 0x88, 0x89, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x65, // [None, True, False, -2]
      ...text('e'), 0x8a, 2, 0xff, 0x7f, // LONG1 32767
      0x75, 0x2e, // SETITEMS, STOP
    ];
    const bytes = new Uint8Array([0x80, 4, 0x95, body.length, 0, 0, 0, 0, 0, 0, 0, ...body]);
    const globals = new Map([['collections.OrderedDict', new PickleCallable('OrderedDict', () => new Map())]]);
    const { value, end } = unpickle(bytes, 0, { source: 'p4.pkl', globals });
    expect(end).toBe(bytes.length);
    expect(value).toEqual(
      new Map<string, unknown>([
        ['a', 1.5],
        ['b', -(2n ** 70n)],
        ['c', new Uint8Array([0x78, 0x79])],
        ['d', [null, true, false, -2]],
        ['e', 32767],
      ]),
    );
  });

  it('gives one-line errors for truncated and malformed pickles', () => {
    const options = { source: 'x.pkl', globals: new Map() };
    const cases: [number[], RegExp][] = [
      [[0x80, 2, 0x58, 9, 0, 0, 0, 0x61], /truncated pickle: BINUNICODE at byte 2 needs 9 bytes, the file ends at byte 8/],
      [[0x80, 2, 0x4b], /truncated pickle: BININT1 at byte 2 needs 1 bytes/],
      [[0x80, 2, 0x4e], /truncated pickle: no STOP before the end of the file/],
      [[0x80, 2, 0x63, 0x6f, 0x73], /truncated pickle: GLOBAL module at byte 2 has no end of line/],
      [[0x80, 2, 0x74, 0x2e], /no MARK before byte 2/],
      [[0x80, 2, 0x2e], /stack underflow at byte 2/],
      [[0x80, 2, 0x68, 7, 0x2e], /memo entry 7 read before it was written/],
      [[0x80, 2, 0x5d, 0x4e, 0x4e, 0x73, 0x2e], /SETITEM on a tuple or list at byte 5/],
      [[0x80, 9, 0x2e], /unsupported pickle protocol 9/],
    ];
    for (const [bytes, pattern] of cases) {
      try {
        unpickle(new Uint8Array(bytes), 0, options);
        throw new Error(`no error for ${bytes}`);
      } catch (err) {
        expect(err).toBeInstanceOf(WeightFileError);
        expect((err as Error).message).toMatch(/^x\.pkl: [^\n]*$/);
        expect((err as Error).message).toMatch(pattern);
      }
    }
  });
});

describe('legacy layout details', () => {
  it('refuses a wrong magic number and a storage whose element count disagrees', async () => {
    const sd = fakeResnetStateDict();
    const bytes = torchLegacyBytes(sd);
    const wrongMagic = new Uint8Array([...dumps(long(12345n)), ...bytes.subarray(dumps(long(0x1950a86a20f9469cfc6cn)).length)]);
    expect(await loadError(await fixture('magic.pth', wrongMagic))).toMatch(/wrong magic number/);

    // The first storage block's element count sits right after the pickles.
    const firstCount = bytes.length - sd.storages.reduce((n, s) => n + 8 + storageBytes(s).length, 0);
    const wrongCount = bytes.slice();
    new DataView(wrongCount.buffer).setBigInt64(firstCount, 3n, true);
    expect(await loadError(await fixture('count.pth', wrongCount))).toMatch(/storage '\d+' holds 3 elements, \d+ expected/);
  });

  it('refuses text, empty and missing files', async () => {
    expect(await loadError(await fixture('empty.pth', new Uint8Array()))).toMatch(/empty file/);
    expect(await loadError(await fixture('notes.pth', new TextEncoder().encode('hello')))).toMatch(/not a PyTorch checkpoint/);
    expect(await loadError(join(dir, 'absent.pth'))).toMatch(/cannot read/);
  });
});

describe('encoder weights', () => {
  it('drops the classifier and prefixes torchvision names with encoder.', () => {
    const t = (n: number): NamedTensor => ({ dtype: 'F32', shape: [n], data: new Float32Array(n) });
    const names = ['conv1.weight', 'fc.weight', 'layer1.0.conv1.weight', 'fc.bias', 'bn1.num_batches_tracked'];
    const tv = new Map(names.map((name, i) => [name, t(i + 1)]));
    const encoder = encoderWeightsFromTorchvision(tv);
    expect([...encoder.keys()]).toEqual([
      'encoder.conv1.weight',
      'encoder.layer1.0.conv1.weight',
      'encoder.bn1.num_batches_tracked',
    ]);
    expect(encoder.get('encoder.layer1.0.conv1.weight')).toBe(tv.get('layer1.0.conv1.weight'));
  });

  it('tells a safetensors file whose header length begins 0x80 0x02 from a pickle', async () => {
    const conv1 = { dtype: 'F32' as const, shape: [2], data: Float32Array.from([1, 2]) };
    let bytes: Uint8Array = new Uint8Array();
    for (let pad = 0; bytes.length < 8 || bytes[0] !== 0x80 || bytes[1] !== 0x02; pad++) {
      bytes = encodeSafetensors(new Map([['conv1.weight', conv1]]), { pad: 'x'.repeat(pad) });
    }
    const weights = await loadEncoderWeights(await fixture('pickle-like.safetensors', bytes));
    expect([...weights.keys()]).toEqual(['encoder.conv1.weight']);
  });

  it('loads .pth (both layouts) and .safetensors with torchvision names', async () => {
    const sd = fakeResnetStateDict();
    const expectedNames = [...sd.expected.keys()].filter((n) => !n.startsWith('fc.')).map((n) => `encoder.${n}`);
    const torchvision = await loadTorchCheckpoint(await fixture('tv.pth', torchLegacyBytes(sd, { python2: true })));
    const safetensorsPath = join(dir, 'resnet34.safetensors');
    await saveSafetensors(safetensorsPath, torchvision);
    for (const path of [join(dir, 'tv.pth'), await fixture('tv.pt', torchZipBytes(sd)), safetensorsPath]) {
      const weights = await loadEncoderWeights(path);
      expect([...weights.keys()].sort(), path).toEqual([...expectedNames].sort());
      const conv1 = weights.get('encoder.conv1.weight')!.data as Float32Array;
      expect(Array.from(conv1)).toEqual(sd.expected.get('conv1.weight')!.values);
    }
    expect(await loadError(await fixture('weights.txt', new TextEncoder().encode('not weights')), loadEncoderWeights)).toMatch(
      /neither a PyTorch checkpoint \(\.pth\/\.pt\) nor a safetensors file/,
    );
  });
});

/** 200 names over one storage of 1,024 floats (the probe's 4 MB file that was copied 200 times). */
function sharedStorage(): FakeStateDict {
  const storage = { key: '0', storageClass: 'FloatStorage' as const, values: Array.from({ length: 1024 }, (_, i) => i) };
  return {
    storages: [storage],
    tensors: Array.from({ length: 200 }, (_, i) => ({ name: `t${i}`, storage, offset: 0, size: [1024], stride: [1] })),
    expected: new Map(),
  };
}

describe('untrusted zip checkpoints: integrity and bounded memory', () => {
  const zipOf = (records: Record<string, Uint8Array>, level: 0 | 9 = 0) => zipSync(records, { level });
  const resnet = () => torchZipBytes(fakeResnetStateDict(), { archive: 'resnet34' });

  it('refuses a record whose bytes fail the CRC-32 of the central directory', async () => {
    const bytes = resnet();
    const record = unzipSync(bytes)['resnet34/data/0']!;
    const at = Buffer.from(bytes).indexOf(Buffer.from(record));
    expect(at).toBeGreaterThan(0);
    const flipped = new Uint8Array(bytes);
    flipped[at + 5]! ^= 0x01;
    expect(await loadError(await fixture('crc.pth', flipped))).toMatch(/zip record 'resnet34\/data\/0' fails its CRC-32 check: the file is corrupt/);
  });

  it('refuses a record that would inflate past 4x the file, before inflating it', async () => {
    const records = unzipSync(resnet());
    records['resnet34/data/9'] = new Uint8Array(8 * 2 ** 20); // 8 MiB of zeros deflate to a few KB
    const bytes = zipOf(records, 9);
    expect(bytes.length).toBeLessThan(64 * 1024);
    expect(await loadError(await fixture('bomb.pth', bytes))).toMatch(/record 'resnet34\/data\/9' would inflate to 8388608 bytes, more than 4x the file's/);
  });

  it('refuses a storage record longer than its storage (a FloatStorage edited to HalfStorage)', async () => {
    const records = unzipSync(resnet());
    const data0 = records['resnet34/data/0']!;
    records['resnet34/data/0'] = new Uint8Array([...data0, 0, 0, 0, 0]);
    expect(await loadError(await fixture('long-record.pth', zipOf(records)))).toMatch(
      /storage record resnet34\/data\/0 holds 2356 bytes, but 588 F32 elements are 2352 \(edited storage type\?\)/,
    );
  });

  it('reads names that share one storage as views (no copy), and bounds the copies of strided views', async () => {
    const tensors = await loadTorchCheckpoint(await fixture('shared.pth', torchZipBytes(sharedStorage())));
    const first = tensors.get('t0')!.data as Float32Array;
    const last = tensors.get('t199')!.data as Float32Array;
    expect(last.buffer).toBe(first.buffer); // one storage in memory, not 200 copies
    expect(Array.from(last.subarray(1020))).toEqual([1020, 1021, 1022, 1023]);
    // A stride-0 view of one element as 4096 x 4096 (64 MiB of floats) from a file of a few hundred bytes.
    const one = { key: '0', storageClass: 'FloatStorage' as const, values: [1] };
    const stretched: FakeStateDict = { storages: [one], tensors: [{ name: 'w', storage: one, offset: 0, size: [4096, 4096], stride: [0, 0] }], expected: new Map() };
    const bytes = torchZipBytes(stretched);
    expect(bytes.length).toBeLessThan(4096);
    expect(await loadError(await fixture('stride0.pth', bytes))).toMatch(/tensor 'w': its strided view of 16777216 elements would take the copies of this file's tensors past \d+ bytes/);
  });
});

// The probe's legacy-layout files, rebuilt: the same bounds hold there as in zip checkpoints.
describe('untrusted legacy checkpoints: bounded memory', () => {
  it('refuses the stride-0 view (839 bytes that would have peaked at 3 GB) and shares one storage among names', async () => {
    const one = { key: '0', storageClass: 'FloatStorage' as const, values: [1] };
    const stretched: FakeStateDict = { storages: [one], tensors: [{ name: 'w', storage: one, offset: 0, size: [16384, 16384], stride: [0, 0] }], expected: new Map() };
    const bytes = torchLegacyBytes(stretched);
    expect(bytes.length).toBeLessThan(1024);
    const before = process.memoryUsage().rss;
    expect(await loadError(await fixture('stride0-legacy.pth', bytes))).toMatch(/tensor 'w': its strided view of 268435456 elements would take the copies/);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);

    const tensors = await loadTorchCheckpoint(await fixture('shared-legacy.pth', torchLegacyBytes(sharedStorage())));
    expect(tensors.get('t199')!.data.buffer).toBe(tensors.get('t0')!.data.buffer);
  });

  it('refuses huge element counts in one line naming the file, not "Invalid typed array length"', async () => {
    const sd = fakeResnetStateDict();
    const bytes = torchLegacyBytes(sd);
    const firstCount = bytes.length - sd.storages.reduce((n, s) => n + 8 + storageBytes(s).length, 0);
    for (const count of [2n ** 31n, 2n ** 40n, 2n ** 62n]) {
      const edited = bytes.slice();
      new DataView(edited.buffer).setBigInt64(firstCount, count, true);
      const message = await loadError(await fixture(`count-${count}.pth`, edited));
      expect(message).not.toMatch(/Invalid typed array length/);
      expect(message).toMatch(new RegExp(`storage '\\d+' holds ${count} elements`));
    }
    // A tensor whose shape alone overflows: 2^31 x 2^31 elements over a storage of one.
    const one = { key: '0', storageClass: 'FloatStorage' as const, values: [1] };
    const huge: FakeStateDict = { storages: [one], tensors: [{ name: 'w', storage: one, offset: 0, size: [2 ** 31, 2 ** 31], stride: [2 ** 31, 1] }], expected: new Map() };
    const message = await loadError(await fixture('huge-shape.pth', torchLegacyBytes(huge)));
    expect(message).not.toMatch(/Invalid typed array length/);
    expect(message).toMatch(/tensor 'w'/);
  });
});
