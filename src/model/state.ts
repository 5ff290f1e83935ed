// State dicts: the model's tensors under segmentation_models_pytorch's names, in PyTorch's layouts
// (conv weights OIHW, the stem with its 3 input channels), converted once here at load and save.
import type { Module, Slot } from './module.js';
import { BatchNorm2d } from './layers.js';
import type { NamedTensor } from './safetensors.js';
import { InputError } from '../util/errors.js';

export type StateDict = Map<string, NamedTensor>;

/** What the layout conversions read of a slot. */
type SlotLayout = Pick<Slot, 'shape' | 'layout'>;

/** Every parameter and buffer of the model, read back from the device, in PyTorch's layout. */
export async function exportStateDict<S>(model: Module<S>): Promise<StateDict> {
  const out: StateDict = new Map();
  const slots = [...model.namedParameters(), ...model.namedBuffers()];
  // Every read is submitted before any is awaited: the copies run back to back on the queue and the host
  // waits once, instead of a round trip per tensor (hundreds per checkpoint).
  const values = await Promise.all(slots.map(([, slot]) => slot.t.toArray()));
  for (const [i, [name, slot]] of slots.entries()) {
    out.set(name, { dtype: 'F32', shape: torchShape(slot), data: toTorchLayout(slot, Float32Array.from(values[i]!)) });
  }
  for (const [prefix, bn] of batchNorms(model)) {
    out.set(`${prefix}num_batches_tracked`, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(bn.numBatchesTracked)) });
  }
  return out;
}

export interface ImportOptions {
  /** Only names starting with this are expected (e.g. 'encoder.' for ImageNet weights). */
  only?: string;
  /** Where the tensors came from, for error messages. */
  source?: string;
}

/**
 * Checks tensors against the model without loading them (the model need not be materialized): every
 * expected name present with PyTorch's shape, finite floats, and no extra names (a file of another
 * model). Throws an InputError naming the source and the tensor.
 */
export function checkStateDict<S>(model: Module<S>, dict: StateDict, o: ImportOptions = {}): void {
  const source = o.source ?? 'state dict';
  const prefix = o.only ?? '';
  const slots = [...model.namedParameters(), ...model.namedBuffers()].filter(([n]) => n.startsWith(prefix));
  const expected = new Set(slots.map(([n]) => n));
  for (const [p] of batchNorms(model).filter(([q]) => q.startsWith(prefix))) expected.add(`${p}num_batches_tracked`);
  for (const name of dict.keys()) {
    if (!expected.has(name)) throw new InputError(`${source}: unexpected tensor '${name}' (not a ResNet-34 UNet${prefix ? ` ${prefix}*` : ''} name)`);
  }
  for (const [name, slot] of slots) {
    const t = dict.get(name);
    if (!t) throw new InputError(`${source}: tensor '${name}' is missing`);
    const want = torchShape(slot);
    if (t.shape.join(',') !== want.join(',')) {
      throw new InputError(`${source}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
    }
    if (!(t.data instanceof Float32Array)) throw new InputError(`${source}: tensor '${name}' is ${t.dtype}, expected a float tensor`);
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new InputError(`${source}: tensor '${name}' holds ${t.data[bad]} (element ${bad}): weights must be finite numbers`);
  }
}

/**
 * Loads tensors into the model, after checkStateDict. Returns how many tensors were loaded.
 */
export function importStateDict<S>(model: Module<S>, dict: StateDict, o: ImportOptions = {}): number {
  checkStateDict(model, dict, o);
  const prefix = o.only ?? '';
  const slots = [...model.namedParameters(), ...model.namedBuffers()].filter(([n]) => n.startsWith(prefix));
  for (const [name, slot] of slots) slot.t.backend.write(slot.t.data, fromTorchLayout(slot, dict.get(name)!.data as Float32Array));
  for (const [p, bn] of batchNorms(model).filter(([q]) => q.startsWith(prefix))) {
    const t = dict.get(`${p}num_batches_tracked`);
    if (t) bn.numBatchesTracked = Number(t.data[0] ?? 0);
  }
  return slots.length;
}

/** The index of the first NaN or infinity, or -1. */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

function batchNorms<S>(model: Module<S>): [string, BatchNorm2d<S>][] {
  // A batch norm's prefix is its weight's name without 'weight'.
  const out: [string, BatchNorm2d<S>][] = [];
  const byWeight = new Map<Slot<S>, string>(model.namedParameters().map(([n, s]) => [s, n]));
  for (const m of model.modules()) {
    if (m instanceof BatchNorm2d) out.push([byWeight.get(m.weight)!.slice(0, -'weight'.length), m]);
  }
  return out;
}

function torchShape(slot: SlotLayout): number[] {
  if (slot.layout.kind !== 'conv') return slot.shape;
  const [kh, kw, , cout] = slot.shape as [number, number, number, number];
  return [cout, slot.layout.torchCin, kh, kw];
}

/** Where each element of a conv weight in PyTorch's layout (OIHW, its cin) sits in ours (HWIO, cin possibly padded). */
function hwioIndexOfOihw(shape: number[], torchCin: number): Int32Array {
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const tc = torchCin;
  const index = new Int32Array(cout * tc * kh * kw);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < tc; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) index[((o * tc + c) * kh + i) * kw + j] = ((i * kw + j) * cin + c) * cout + o;
  return index;
}

/** HWIO (cin possibly padded) -> OIHW (PyTorch's cin). */
function toTorchLayout(slot: SlotLayout, ours: Float32Array): Float32Array {
  if (slot.layout.kind !== 'conv') return ours;
  const index = hwioIndexOfOihw(slot.shape, slot.layout.torchCin);
  const out = new Float32Array(index.length);
  for (let t = 0; t < index.length; t++) out[t] = ours[index[t]!]!;
  return out;
}

/** OIHW -> HWIO, zero-filling padded input channels. */
function fromTorchLayout(slot: SlotLayout, torch: Float32Array): Float32Array {
  if (slot.layout.kind !== 'conv') return torch;
  const [kh, kw, cin, cout] = slot.shape as [number, number, number, number];
  const index = hwioIndexOfOihw(slot.shape, slot.layout.torchCin);
  const out = new Float32Array(kh * kw * cin * cout);
  for (let t = 0; t < index.length; t++) out[index[t]!] = torch[t]!;
  return out;
}
