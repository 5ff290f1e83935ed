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
// Here: the tensors out of their storages, and the entry points; the pickle's globals and persistent
// ids are in torch-globals.ts, the two layouts in torch-layouts.ts.
import { describePickled } from './pickle-values.js';
import {
  type NamedTensor,
  WeightFileError,
  decodeTensorBytes,
  elementCount,
  readFileBytes,
  readSafetensors,
} from './safetensors.js';
import { TensorRef } from './torch-globals.js';
import { type PickledCheckpoint, readLegacyCheckpoint, readZipCheckpoint } from './torch-layouts.js';

const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04]; // 'PK\x03\x04'
const PICKLE_PROTO_OPCODE = 0x80;
/** Where training scripts commonly nest the weights inside a larger checkpoint dict. */
const NESTED_STATE_DICT_KEYS = ['state_dict', 'model'];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.byteLength >= prefix.length && prefix.every((b, i) => bytes[i] === b);
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
