// PyTorch checkpoints (torch.save of a state dict) read in TypeScript, with no Python. Two layouts:
//
// - zip (PyTorch >= 1.6): entries <prefix>/data.pkl (the pickled dict), <prefix>/data/<key> (one raw
//   storage per key), <prefix>/version, and maybe <prefix>/byteorder ('little' or 'big').
// - legacy (what torchvision's resnet34-333f7ec4.pth uses): consecutive pickles of the magic number,
//   the protocol version, a sys_info dict, the state dict, and the list of storage keys; then, for each
//   key in that order, an 8-byte little-endian element count and the storage's raw little-endian bytes.
//
// In both, a tensor is pickled as torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]) (older files: _rebuild_tensor with the first four),
// and its storage as a persistent id: ('storage', storage_type, key, location, numel) in a zip, with a
// sixth element view_metadata (None, or (view_key, offset, size) into the root storage) in legacy files.
// The pickle runs on our whitelisting machine (pickle.ts): nothing in the file is executed.
import { readZipRecords } from './zip.js';
import { PickleCallable, describePickled, unpickle } from './pickle.js';
import {
  ELEMENT_BYTES,
  type NamedTensor,
  type StoredDtype,
  WeightFileError,
  decodeTensorBytes,
  elementCount,
  readFileBytes,
  readSafetensors,
} from './safetensors.js';

const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04]; // 'PK\x03\x04'
const PICKLE_PROTO_OPCODE = 0x80;
/** torch/serialization.py: MAGIC_NUMBER and PROTOCOL_VERSION open every legacy file. */
const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
const LEGACY_NUMEL_BYTES = 8;
const PICKLE_NAME = 'data.pkl';
/** Only TorchScript archives (torch.jit.save) hold this record. */
const TORCHSCRIPT_RECORD = 'constants.pkl';
/** Where training scripts commonly nest the weights inside a larger checkpoint dict. */
const NESTED_STATE_DICT_KEYS = ['state_dict', 'model'];

/** The storage classes of a float state dict, and the element type each holds. */
const STORAGE_CLASSES: Record<string, StoredDtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
};
/** Files saved from the GPU name the CUDA storage classes; their bytes are the same. */
const STORAGE_MODULES = ['torch', 'torch.cuda'];

class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: StoredDtype,
  ) {}
}

/** One storage of the file (a zip record or a legacy data block), found through its key. */
interface RootStorage {
  key: string;
  dtype: StoredDtype;
  numel: number;
}

/** What a persistent id resolves to: a root storage, or (legacy views) a window onto one. */
class StorageView {
  constructor(
    readonly root: RootStorage,
    readonly offset: number,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it; its values are gathered once every storage is located. */
class TensorRef {
  constructor(
    readonly storage: StorageView,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function counts(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) throw new Error(`${what} is not a tuple of sizes`);
  return value;
}

// ---------------------------------------------------------------------------------------------------
// The globals a state dict may name, as our own functions.

/** Gradient flags, hooks and metadata (conj/neg bits) mean nothing for stored weights. */
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageView)) throw new Error(`storage argument is a ${describePickled(storage)}`);
  if (!isCount(offset)) throw new Error(`storage_offset ${String(offset)} is not a count`);
  const shape = counts(size, 'size');
  const strides = counts(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size [${shape}] and stride [${strides}] differ in rank`);
  return new TensorRef(storage, offset, shape, strides);
}

/** Python 3 pickles OrderedDict() then SETITEMS; Python 2 passed the items as ([[key, value], ...],). */
function orderedDict(args: unknown[]): Map<unknown, unknown> {
  if (args.length === 0) return new Map();
  const [items] = args;
  if (args.length !== 1 || !Array.isArray(items)) throw new Error('unexpected arguments');
  return new Map(
    items.map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error('items are not key-value pairs');
      return [pair[0], pair[1]] as const;
    }),
  );
}

function checkpointGlobals(): Map<string, unknown> {
  const globals = new Map<string, unknown>([
    ['collections.OrderedDict', new PickleCallable('collections.OrderedDict', orderedDict)],
    ['torch._utils._rebuild_tensor_v2', new PickleCallable('torch._utils._rebuild_tensor_v2', rebuildTensor)],
    ['torch._utils._rebuild_tensor', new PickleCallable('torch._utils._rebuild_tensor', rebuildTensor)],
    // A Parameter wraps its tensor: (data, requires_grad, backward_hooks).
    ['torch._utils._rebuild_parameter', new PickleCallable('torch._utils._rebuild_parameter', ([data]) => data)],
  ]);
  for (const module of STORAGE_MODULES) {
    for (const [name, dtype] of Object.entries(STORAGE_CLASSES)) {
      globals.set(`${module}.${name}`, new StorageType(name, dtype));
    }
  }
  return globals;
}

/** Resolves persistent ids, registering each root storage the first time its key appears. */
function storageLoader(roots: Map<string, RootStorage>): (pid: unknown) => StorageView {
  return (pid) => {
    if (!Array.isArray(pid) || (pid.length !== 5 && pid.length !== 6) || pid[0] !== 'storage') {
      throw new Error('not a storage reference');
    }
    const [, type, key, , numel, view = null] = pid as unknown[];
    if (!(type instanceof StorageType)) throw new Error(`unsupported storage type (${describePickled(type)})`);
    if (typeof key !== 'string' || !isCount(numel)) throw new Error('malformed storage reference');
    let root = roots.get(key);
    if (root === undefined) roots.set(key, (root = { key, dtype: type.dtype, numel }));
    if (root.dtype !== type.dtype) throw new Error(`storage '${key}' read as both ${root.dtype} and ${type.dtype}`);
    if (view === null) return new StorageView(root, 0, root.numel);
    const [, offset, size] = Array.isArray(view) ? view : [];
    if (!isCount(offset) || !isCount(size) || offset + size > root.numel) {
      throw new Error(`storage view of '${key}' does not fit its ${root.numel} elements`);
    }
    return new StorageView(root, offset, size);
  };
}

// ---------------------------------------------------------------------------------------------------
// The two layouts: each yields the unpickled top object and the bytes of every root storage.

interface PickledCheckpoint {
  top: unknown;
  roots: Map<string, RootStorage>;
  storageBytes: Map<string, Uint8Array>;
  littleEndian: boolean;
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.byteLength >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function readZipCheckpoint(bytes: Uint8Array, source: string, fail: (problem: string) => never): PickledCheckpoint {
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

function readLegacyCheckpoint(bytes: Uint8Array, source: string, fail: (problem: string) => never): PickledCheckpoint {
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

// ---------------------------------------------------------------------------------------------------
// Tensors out of storages.

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}

/** Copies a strided view into a fresh row-major array (an odometer over the indices). */
function gather<A extends Float32Array | BigInt64Array>(
  source: A,
  out: A,
  offset: number,
  size: number[],
  stride: number[],
): A {
  const index = new Array<number>(size.length).fill(0);
  let position = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = source[position];
    for (let d = size.length - 1; d >= 0; d--) {
      index[d]++;
      position += stride[d];
      if (index[d] < size[d]) break;
      position -= stride[d] * size[d];
      index[d] = 0;
    }
  }
  return out;
}

/** How many elements the copies of strided views may still take (bounded by the file's size). */
interface CopyBudget {
  elements: number;
  limitBytes: number;
}

/**
 * Strided views are copied (to row-major); their copies together may take at most this many times the
 * file's size, plus a floor for small files: a real state dict holds each tensor once, while an 839-byte
 * file of stride-0 views could otherwise ask for gigabytes.
 */
const COPY_FACTOR = 2;
const COPY_FLOOR_BYTES = 16 * 2 ** 20;

function materialise(
  name: string,
  t: TensorRef,
  elements: Float32Array | BigInt64Array,
  budget: CopyBudget,
  fail: (problem: string) => never,
): NamedTensor {
  const { storage, size, stride } = t;
  const numel = elementCount(size);
  const dtype = elements instanceof BigInt64Array ? 'I64' : 'F32';
  if (numel === 0) return { dtype, shape: size, data: dtype === 'I64' ? new BigInt64Array(0) : new Float32Array(0) };
  const last = t.offset + size.reduce((sum, n, d) => sum + (n - 1) * stride[d], 0);
  if (last >= storage.numel) {
    const layout = `size [${size}] stride [${stride}] at offset ${t.offset}`;
    fail(`tensor '${name}': ${layout} reaches past its storage of ${storage.numel} elements`);
  }
  const start = storage.offset + t.offset;
  if (isContiguous(size, stride)) {
    // A view of the storage, not a copy: 200 names sharing one storage cost nothing more.
    return { dtype, shape: size, data: elements.subarray(start, start + numel) };
  }
  budget.elements -= numel;
  if (budget.elements < 0) {
    fail(`tensor '${name}': its strided view of ${numel} elements would take the copies of this file's tensors past ${budget.limitBytes} bytes (a file of shared or stride-0 views)`);
  }
  const data = elements instanceof BigInt64Array
      ? gather(elements, new BigInt64Array(numel), start, size, stride)
      : gather(elements, new Float32Array(numel), start, size, stride);
  return { dtype, shape: size, data };
}

/** The dict of tensors: the top object, or the state dict a training checkpoint nests in it. */
function stateDictOf(top: unknown, fail: (problem: string) => never): Map<unknown, unknown> {
  if (!(top instanceof Map)) return fail(`holds a ${describePickled(top)}, not a state dict`);
  for (const key of NESTED_STATE_DICT_KEYS) {
    const nested = top.get(key);
    if (nested instanceof Map) return nested;
  }
  return top;
}

/** A checkpoint's tensors from its bytes (either layout); `source` names it in errors. */
export function readTorchCheckpoint(bytes: Uint8Array, source: string): Map<string, NamedTensor> {
  const fail: (problem: string) => never = (problem) => {
    throw new WeightFileError(`${source}: ${problem}`);
  };
  let checkpoint: PickledCheckpoint;
  if (startsWith(bytes, ZIP_LOCAL_HEADER)) checkpoint = readZipCheckpoint(bytes, source, fail);
  else if (bytes[0] === PICKLE_PROTO_OPCODE) checkpoint = readLegacyCheckpoint(bytes, source, fail);
  else return fail(bytes.byteLength === 0 ? 'empty file' : 'not a PyTorch checkpoint (neither a zip archive nor a pickle)');

  const decoded = new Map<string, Float32Array | BigInt64Array>();
  for (const [key, raw] of checkpoint.storageBytes) {
    decoded.set(key, decodeTensorBytes(raw, checkpoint.roots.get(key)!.dtype, checkpoint.littleEndian));
  }
  const tensors = new Map<string, NamedTensor>();
  const limitBytes = COPY_FACTOR * bytes.byteLength + COPY_FLOOR_BYTES;
  const budget: CopyBudget = { elements: limitBytes / 4, limitBytes };
  for (const [name, value] of stateDictOf(checkpoint.top, fail)) {
    if (typeof name !== 'string') fail(`state dict key ${String(name)} is not a string`);
    if (!(value instanceof TensorRef)) fail(`entry '${name}' is a ${describePickled(value)}, not a tensor`);
    tensors.set(name, materialise(name, value, decoded.get(value.storage.root.key)!, budget, fail));
  }
  return tensors;
}

export async function loadTorchCheckpoint(path: string): Promise<Map<string, NamedTensor>> {
  return readTorchCheckpoint(await readFileBytes(path), path);
}

// ---------------------------------------------------------------------------------------------------
// torchvision ResNet weights as the UNet's encoder.

const ENCODER_PREFIX = 'encoder.';
/** torchvision's classifier head; the UNet has no use for it. */
const CLASSIFIER_PREFIX = 'fc.';

/** torchvision resnet names -> segmentation_models_pytorch encoder names (classifier dropped). */
export function encoderWeightsFromTorchvision(weights: Map<string, NamedTensor>): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [name, tensor] of weights) {
    if (!name.startsWith(CLASSIFIER_PREFIX)) out.set(ENCODER_PREFIX + name, tensor);
  }
  return out;
}

/**
 * A safetensors file starts with its header length, then the header's opening brace. Checked before
 * the torch signatures: a header length can begin with the bytes 0x80 0x02 of a pickle.
 */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  const HEADER_START = 8;
  if (bytes.byteLength <= HEADER_START || bytes[HEADER_START] !== '{'.charCodeAt(0)) return false;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, HEADER_START).getBigUint64(0, true);
  return headerLength <= BigInt(bytes.byteLength - HEADER_START);
}

/**
 * `--encoder-weights FILE`: a torchvision ResNet state dict as .pth/.pt (either torch.save layout) or
 * .safetensors (torchvision's names), told apart by content, returned with the encoder's names.
 */
export async function loadEncoderWeights(path: string): Promise<Map<string, NamedTensor>> {
  const bytes = await readFileBytes(path);
  if (looksLikeSafetensors(bytes)) return encoderWeightsFromTorchvision(readSafetensors(bytes, path));
  if (startsWith(bytes, ZIP_LOCAL_HEADER) || bytes[0] === PICKLE_PROTO_OPCODE) {
    return encoderWeightsFromTorchvision(readTorchCheckpoint(bytes, path));
  }
  throw new WeightFileError(`${path}: neither a PyTorch checkpoint (.pth/.pt) nor a safetensors file`);
}
