// The value model of a torch.save pickle: the globals a state dict may name (tensor rebuilds,
// OrderedDict, storage classes) as our own functions, and its storages as persistent ids. Apart from
// the layouts (torch-layouts.ts) that find the pickle and the storages' bytes.
import { PickleCallable, describePickled } from './pickle-values.js';
import type { StoredDtype } from './safetensors.js';

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

export class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: StoredDtype,
  ) {}
}

/** One storage of the file (a zip record or a legacy data block), found through its key. */
export interface RootStorage {
  key: string;
  dtype: StoredDtype;
  numel: number;
}

/** What a persistent id resolves to: a root storage, or (legacy views) a window onto one. */
export class StorageView {
  constructor(
    readonly root: RootStorage,
    readonly offset: number,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it; its values are gathered once every storage is located. */
export class TensorRef {
  constructor(
    readonly storage: StorageView,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function counts(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) throw new Error(`${what} is not a tuple of sizes`);
  return value;
}

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

export function checkpointGlobals(): Map<string, unknown> {
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
export function storageLoader(roots: Map<string, RootStorage>): (pid: unknown) => StorageView {
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
