// The records of a torch.save zip archive, inflated by fflate, with the two checks fflate leaves out:
// each record's CRC-32 against the central directory (a flipped byte in a tensor is an error, not a
// wrong weight), and a bound on what a record may inflate to, checked before inflating (a 524 KB file
// must not become 512 MiB in memory).
import { crc32 } from 'node:zlib';
import { unzipSync } from 'fflate';
import { errorMessage } from '../util/files.js';

const END_OF_DIRECTORY = 0x06054b50;
const DIRECTORY_ENTRY = 0x02014b50;
/** The end-of-directory record is 22 bytes plus a comment of up to 65,535. */
const END_RECORD_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
/** A 32-bit field that says "see the zip64 extra field". */
const ZIP64_MARKER = 0xffffffff;
/**
 * torch.save stores its records uncompressed; a compressed one may inflate to at most this many times
 * the file's size (what deflate reaches on real tensors is far less).
 */
const MAX_INFLATE_RATIO = 4;

/** CRC-32 of each record by name, from the central directory; null where the archive is zip64. */
function directoryCrcs(bytes: Uint8Array, fail: (problem: string) => never): Map<string, number> | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let at = bytes.byteLength - END_RECORD_BYTES; at >= Math.max(0, bytes.byteLength - END_RECORD_BYTES - MAX_COMMENT_BYTES); at--) {
    if (view.getUint32(at, true) === END_OF_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) fail('zip archive without its central directory (truncated?)');
  const count = view.getUint16(end + 10, true);
  const offset = view.getUint32(end + 16, true);
  if (offset === ZIP64_MARKER || count === 0xffff) return null;
  const crcs = new Map<string, number>();
  let at = offset;
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.byteLength || view.getUint32(at, true) !== DIRECTORY_ENTRY) fail(`zip central directory entry ${i} is damaged`);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    if (at + 46 + nameLength > bytes.byteLength) fail(`zip central directory entry ${i} is damaged`);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    if (crcs.has(name)) fail(`zip record '${name}' appears twice`);
    crcs.set(name, view.getUint32(at + 16, true));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return crcs;
}

/** Every record of the archive, CRC-checked; `fail` throws with the problem. */
export function readZipRecords(bytes: Uint8Array, fail: (problem: string) => never): Record<string, Uint8Array> {
  const crcs = directoryCrcs(bytes, fail);
  const limit = MAX_INFLATE_RATIO * bytes.byteLength;
  let records: Record<string, Uint8Array>;
  try {
    records = unzipSync(bytes, {
      filter: (file) => {
        if (file.originalSize > limit) {
          throw new Error(`record '${file.name}' would inflate to ${file.originalSize} bytes, more than ${MAX_INFLATE_RATIO}x the file's ${bytes.byteLength}`);
        }
        return true;
      },
    });
  } catch (err) {
    return fail(`not a readable zip archive, truncated or corrupt (${errorMessage(err)})`);
  }
  if (crcs) {
    for (const [name, record] of Object.entries(records)) {
      const expected = crcs.get(name);
      if (expected === undefined) fail(`zip record '${name}' is missing from the central directory`);
      if (crc32(record) !== expected) fail(`zip record '${name}' fails its CRC-32 check: the file is corrupt`);
    }
  }
  return records;
}
