// The two layouts of a torch.save file (see torch.ts): a zip archive of records, or legacy
// consecutive pickles followed by the raw storages. Each yields the unpickled top object and the bytes
// of every root storage, for torch.ts to turn into tensors.
import { unpickle } from './pickle.js';
import { ELEMENT_BYTES } from './safetensors.js';
import { type RootStorage, checkpointGlobals, storageLoader } from './torch-globals.js';
import { readZipRecords } from './zip.js';

/** torch/serialization.py: MAGIC_NUMBER and PROTOCOL_VERSION open every legacy file. */
const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
const LEGACY_NUMEL_BYTES = 8;
const PICKLE_NAME = 'data.pkl';
/** Only TorchScript archives (torch.jit.save) hold this record. */
const TORCHSCRIPT_RECORD = 'constants.pkl';

export interface PickledCheckpoint {
  top: unknown;
  roots: Map<string, RootStorage>;
  storageBytes: Map<string, Uint8Array>;
  littleEndian: boolean;
}

export function readZipCheckpoint(bytes: Uint8Array, source: string, fail: (problem: string) => never): PickledCheckpoint {
  const records = readZipRecords(bytes, fail);
  const names = Object.keys(records);
  const pickleName = names.find((n) => n === PICKLE_NAME || (n.endsWith(`/${PICKLE_NAME}`) && n.split('/').length === 2));
  if (pickleName === undefined) {
    if (names.some((n) => n.endsWith(TORCHSCRIPT_RECORD))) fail('a TorchScript archive (torch.jit.save), not a state dict');
    fail(`zip archive without ${PICKLE_NAME}: not a torch.save checkpoint`);
  }
  const prefix = pickleName.slice(0, -PICKLE_NAME.length);

  const byteOrder = records[`${prefix}byteorder`];
  const order = byteOrder === undefined ? 'little' : new TextDecoder().decode(byteOrder);
  if (order !== 'little' && order !== 'big') fail(`unknown byteorder record '${order}'`);

  const roots = new Map<string, RootStorage>();
  const { value: top } = unpickle(records[pickleName], 0, {
    source: `${source} (${pickleName})`,
    globals: checkpointGlobals(),
    persistentLoad: storageLoader(roots),
  });
  const storageBytes = new Map<string, Uint8Array>();
  for (const root of roots.values()) {
    const name = `${prefix}data/${root.key}`;
    const record = records[name];
    const needed = root.numel * ELEMENT_BYTES[root.dtype];
    if (record === undefined) fail(`missing storage record ${name}`);
    if (record.byteLength !== needed) {
      fail(`storage record ${name} holds ${record.byteLength} bytes, but ${root.numel} ${root.dtype} elements are ${needed} (edited storage type?)`);
    }
    storageBytes.set(root.key, record);
  }
  return { top, roots, storageBytes, littleEndian: order === 'little' };
}

export function readLegacyCheckpoint(bytes: Uint8Array, source: string, fail: (problem: string) => never): PickledCheckpoint {
  const globals = checkpointGlobals();
  const plain = { source, globals };
  const magic = unpickle(bytes, 0, plain);
  if (magic.value !== LEGACY_MAGIC_NUMBER) fail('not a PyTorch checkpoint (wrong magic number)');
  const version = unpickle(bytes, magic.end, plain);
  if (version.value !== LEGACY_PROTOCOL_VERSION) fail(`unsupported legacy protocol version ${String(version.value)}`);
  const sysInfo = unpickle(bytes, version.end, plain);
  // sys_info records the saving machine's byte order; no file we expect comes from a big-endian one,
  // so such a file is refused rather than guessed at.
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) fail('big-endian legacy checkpoint');

  const roots = new Map<string, RootStorage>();
  const body = unpickle(bytes, sysInfo.end, { source, globals, persistentLoad: storageLoader(roots) });
  const keyList = unpickle(bytes, body.end, plain);
  const keys = keyList.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) fail('storage key list is not a list of strings');

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storageBytes = new Map<string, Uint8Array>();
  let at = keyList.end;
  for (const key of keys) {
    const root = roots.get(key);
    if (root === undefined) fail(`storage '${key}' is listed but no tensor uses it`);
    if (bytes.byteLength - at < LEGACY_NUMEL_BYTES) fail(`truncated: storage '${key}' has no element count at byte ${at}`);
    const numel = view.getBigInt64(at, true);
    if (numel !== BigInt(root.numel)) fail(`storage '${key}' holds ${numel} elements, ${root.numel} expected`);
    at += LEGACY_NUMEL_BYTES;
    const needed = root.numel * ELEMENT_BYTES[root.dtype];
    const remaining = bytes.byteLength - at;
    if (remaining < needed) fail(`truncated: storage '${key}' needs ${needed} bytes at byte ${at}, ${remaining} remain`);
    storageBytes.set(key, bytes.subarray(at, at + needed));
    at += needed;
  }
  for (const key of roots.keys()) if (!storageBytes.has(key)) fail(`storage '${key}' has no data`);
  return { top: body.value, roots, storageBytes, littleEndian: true };
}
