// The operands of pickle's opcodes, read from the file's bytes, each bounds-checked against its end,
// and the one-line error that names the file and the byte. The machine (pickle.ts) is built on this,
// apart so that it reads as its opcodes.
import { WeightFileError } from './safetensors.js';

const NEWLINE = 0x0a;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class OperandReader {
  protected readonly view: DataView;
  protected pos: number;
  /** Where the opcode being run starts: errors name it. */
  protected opAt = 0;

  constructor(
    protected readonly bytes: Uint8Array,
    start: number,
    protected readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  protected fail(problem: string): never {
    throw new WeightFileError(`${this.source}: ${problem}`);
  }

  protected take(count: number, what: string): number {
    const at = this.pos;
    if (count > this.bytes.byteLength - at) {
      const end = this.bytes.byteLength;
      this.fail(`truncated pickle: ${what} at byte ${this.opAt} needs ${count} bytes, the file ends at byte ${end}`);
    }
    this.pos += count;
    return at;
  }

  protected u8(what: string): number {
    return this.view.getUint8(this.take(1, what));
  }

  protected u16(what: string): number {
    return this.view.getUint16(this.take(2, what), true);
  }

  protected i32(what: string): number {
    return this.view.getInt32(this.take(4, what), true);
  }

  protected u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }

  protected u64(what: string): number {
    const value = this.view.getBigUint64(this.take(8, what), true);
    // Anything past 2^53 is past the end of any file we can hold; take() then reports the truncation.
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }

  protected raw(count: number, what: string): Uint8Array {
    if (count < 0) this.fail(`malformed pickle: negative length for ${what} at byte ${this.opAt}`);
    const at = this.take(count, what);
    return this.bytes.subarray(at, at + count);
  }

  protected text(count: number, what: string): string {
    const bytes = this.raw(count, what);
    try {
      return utf8.decode(bytes);
    } catch {
      return this.fail(`malformed pickle: ${what} at byte ${this.opAt} is not UTF-8`);
    }
  }

  protected line(what: string): string {
    const end = this.bytes.indexOf(NEWLINE, this.pos);
    if (end < 0) this.fail(`truncated pickle: ${what} at byte ${this.opAt} has no end of line`);
    const text = this.text(end - this.pos, what);
    this.pos++; // past the newline
    return text;
  }

  /** Two's complement little-endian, as LONG1 stores it; a number when it fits exactly. */
  protected long(count: number): number | bigint {
    const bytes = this.raw(count, 'LONG1');
    let value = 0n;
    for (let i = count - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (count > 0 && bytes[count - 1] & 0x80) value -= 1n << BigInt(8 * count);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
}
