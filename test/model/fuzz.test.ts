// Seeded fuzzing of the weight-file readers: valid files (safetensors, torch.save zip and legacy)
// mutated thousands of times (byte flips, truncations, header digits, pickle opcodes). Every result
// must be a state dict or a WeightFileError on one line naming the file: never another exception (a
// TypeError or RangeError is a reader bug), never a hang, never more memory than the file justifies.
// A failure prints the base, the seed and the mutation, which reproduce it.
import { describe, expect, it } from 'vitest';
import { type NamedTensor, WeightFileError, encodeSafetensors, readSafetensors } from '../../src/model/safetensors.js';
import { readTorchCheckpoint } from '../../src/model/torch.js';
import { type Rng, rng } from '../../src/util/random.js';
import { fakeDtypeStateDict, fakeResnetStateDict, torchLegacyBytes, torchZipBytes } from './fixtures/torchCheckpoint.js';

const MUTANTS_PER_BASE = Number(process.env.FUZZ_N ?? 1500);
/** What any reader may hand back for a file of n bytes: its tensors, and the copies of strided views. */
const maxDecodedBytes = (n: number) => 8 * n + 2 * n + 16 * 2 ** 20;
/** A read of a file of a few kilobytes takes microseconds; a second means a loop. */
const SLOW_READ_MS = 1000;

const SOURCE = 'fuzzed.bin';

function safetensorsBase(): Uint8Array {
  const tensors = new Map<string, NamedTensor>([
    ['encoder.conv1.weight', { dtype: 'F32', shape: [4, 3, 3, 3], data: Float32Array.from({ length: 108 }, (_, i) => i / 7) }],
    ['encoder.bn1.num_batches_tracked', { dtype: 'I64', shape: [], data: new BigInt64Array([7n]) }],
    ['decoder.bias', { dtype: 'F32', shape: [5], data: new Float32Array([1, 2, 3, 4, 5]) }],
  ]);
  return encodeSafetensors(tensors, { step: '3' });
}

type Reader = (bytes: Uint8Array) => Map<string, NamedTensor>;
const BASES: [string, () => Uint8Array, Reader][] = [
  ['safetensors', safetensorsBase, (b) => readSafetensors(b, SOURCE)],
  ['torch zip', () => torchZipBytes(fakeResnetStateDict(), { archive: 'resnet34' }), (b) => readTorchCheckpoint(b, SOURCE)],
  ['torch legacy', () => torchLegacyBytes(fakeDtypeStateDict()), (b) => readTorchCheckpoint(b, SOURCE)],
  ['torch legacy py2', () => torchLegacyBytes(fakeResnetStateDict(), { python2: true }), (b) => readTorchCheckpoint(b, SOURCE)],
];

const PICKLE_OPCODES = [0x28, 0x29, 0x2e, 0x30, 0x4b, 0x4d, 0x4a, 0x5d, 0x5f, 0x61, 0x62, 0x65, 0x68, 0x71, 0x72, 0x73, 0x74, 0x75, 0x7d, 0x80, 0x85, 0x86, 0x8c, 0x93, 0x94, 0x95, 0x52, 0x51, 0x63, 0x69, 0x81];

const pick = (r: Rng, n: number) => Math.floor(r() * n);

/** One mutation of `base`, described in words for the failure message. */
function mutate(base: Uint8Array, r: Rng): { bytes: Uint8Array; what: string } {
  const bytes = new Uint8Array(base);
  switch (pick(r, 5)) {
    case 0: {
      const flips = 1 + pick(r, 4);
      const at: number[] = [];
      for (let i = 0; i < flips; i++) {
        const p = pick(r, bytes.length);
        bytes[p]! ^= 1 << pick(r, 8);
        at.push(p);
      }
      return { bytes, what: `bit flips at ${at.join(', ')}` };
    }
    case 1: {
      const length = pick(r, bytes.length);
      return { bytes: bytes.subarray(0, length), what: `truncated to ${length} bytes` };
    }
    case 2: {
      // A digit of a header (safetensors JSON, zip sizes in pickles' text) replaced by another.
      const digits: number[] = [];
      for (let i = 0; i < Math.min(bytes.length, 4096); i++) if (bytes[i]! >= 0x30 && bytes[i]! <= 0x39) digits.push(i);
      if (digits.length === 0) return { bytes, what: 'unchanged' };
      const p = digits[pick(r, digits.length)]!;
      bytes[p] = 0x30 + pick(r, 10);
      return { bytes, what: `digit at ${p} set to ${String.fromCharCode(bytes[p]!)}` };
    }
    case 3: {
      // A byte replaced by a pickle opcode (in a torch file, often lands in the pickle).
      const p = pick(r, bytes.length);
      bytes[p] = PICKLE_OPCODES[pick(r, PICKLE_OPCODES.length)]!;
      return { bytes, what: `opcode 0x${bytes[p]!.toString(16)} at ${p}` };
    }
    default: {
      // A run of bytes set to 0xff: huge lengths, counts and offsets.
      const p = pick(r, bytes.length);
      const n = 1 + pick(r, 8);
      bytes.fill(0xff, p, p + n);
      return { bytes, what: `${n} bytes of 0xff at ${p}` };
    }
  }
}

function decodedBytes(tensors: Map<string, NamedTensor>): number {
  const buffers = new Set<ArrayBufferLike>();
  let total = 0;
  for (const t of tensors.values()) {
    if (!buffers.has(t.data.buffer)) total += t.data.buffer.byteLength;
    buffers.add(t.data.buffer);
  }
  return total;
}

describe.each(BASES)('fuzzed %s files', (name, makeBase, read) => {
  it(`${MUTANTS_PER_BASE} seeded mutations give a state dict or a clean one-line error`, () => {
    const base = makeBase();
    expect(read(base).size).toBeGreaterThan(0); // the base itself is valid
    const outcomes = { read: 0, refused: 0 };
    const startRss = process.memoryUsage().rss;
    for (let seed = 0; seed < MUTANTS_PER_BASE; seed++) {
      const { bytes, what } = mutate(base, rng(seed * 7919 + name.length));
      const where = `${name}, seed ${seed}: ${what}`;
      const started = performance.now();
      try {
        const tensors = read(bytes);
        expect(decodedBytes(tensors), where).toBeLessThanOrEqual(maxDecodedBytes(bytes.length));
        outcomes.read++;
      } catch (err) {
        if (!(err instanceof WeightFileError)) throw new Error(`${where}: threw ${String(err)}`);
        expect(err.message.includes('\n'), where).toBe(false);
        expect(err.message.startsWith(`${SOURCE}: `), where).toBe(true);
        outcomes.refused++;
      }
      expect(performance.now() - started, where).toBeLessThan(SLOW_READ_MS);
    }
    // Most mutations break the file; some (a flipped bit in a float) leave it readable.
    expect(outcomes.refused).toBeGreaterThan(MUTANTS_PER_BASE / 4);
    expect(outcomes.read + outcomes.refused).toBe(MUTANTS_PER_BASE);
    expect(process.memoryUsage().rss - startRss).toBeLessThan(512 * 2 ** 20);
  });
});
