// Modules: a tree of named children, each with named parameters (trainable) and buffers (running
// statistics). Names join with '.', so the tree's names are exactly segmentation_models_pytorch's
// state-dict keys. A module declares shapes and initialisers; storage comes later, from materialize().
import type { Backend } from '../backend/backend.js';
import type { ParamArena } from '../core/types.js';
import { sizeOf } from '../core/geometry.js';
import { Tensor } from '../autograd/tensor.js';
import type { Rng } from '../util/random.js';

/** How a tensor is laid out here and in PyTorch's files. */
export type Layout =
  /** Conv weight: ours HWIO [kh, kw, cin, cout], PyTorch OIHW; `torchCin` < cin means zero-padded input channels. */
  | { kind: 'conv'; torchCin: number }
  | { kind: 'plain' };

/** Fills a parameter or buffer of `size` elements at materialize(). */
export type SlotInit = (r: Rng, size: number) => Float32Array;

/** A parameter or buffer: its shape and initialiser, and (once materialized) its tensor on storage S. */
export class Slot<S = unknown> {
  tensor: Tensor<S> | null = null;

  constructor(
    readonly shape: number[],
    readonly layout: Layout,
    readonly init: SlotInit,
  ) {}

  get size(): number {
    return sizeOf(this.shape);
  }

  /** The tensor; throws before materialize(). */
  get t(): Tensor<S> {
    if (!this.tensor) throw new Error('model parameters are not materialized yet');
    return this.tensor;
  }
}

/** A module whose tensors live on storage S (a backend's): its children, parameters and buffers share it. */
export abstract class Module<S = unknown> {
  private readonly children: [string, Module<S>][] = [];
  private readonly params: [string, Slot<S>][] = [];
  private readonly buffers: [string, Slot<S>][] = [];
  /** Forward passes in training mode (PyTorch's num_batches_tracked), per batch-norm layer. */
  training = true;

  protected child<M extends Module<S>>(name: string, m: M): M {
    this.children.push([name, m]);
    return m;
  }

  protected param(name: string, shape: number[], layout: Layout, init: SlotInit): Slot<S> {
    const s = new Slot<S>(shape, layout, init);
    this.params.push([name, s]);
    return s;
  }

  protected buffer(name: string, shape: number[], init: SlotInit): Slot<S> {
    const s = new Slot<S>(shape, { kind: 'plain' }, init);
    this.buffers.push([name, s]);
    return s;
  }

  namedParameters(prefix = ''): [string, Slot<S>][] {
    return [
      ...this.params.map(([n, s]): [string, Slot<S>] => [prefix + n, s]),
      ...this.children.flatMap(([n, c]) => c.namedParameters(`${prefix}${n}.`)),
    ];
  }

  namedBuffers(prefix = ''): [string, Slot<S>][] {
    return [
      ...this.buffers.map(([n, s]): [string, Slot<S>] => [prefix + n, s]),
      ...this.children.flatMap(([n, c]) => c.namedBuffers(`${prefix}${n}.`)),
    ];
  }

  modules(): Module<S>[] {
    return [this, ...this.children.flatMap(([, c]) => c.modules())];
  }

  setTraining(training: boolean): void {
    for (const m of this.modules()) m.training = training;
  }
}

/** Where a materialized model's storage lives: one arena for the parameters, one for the buffers. */
export interface ModelStorage<S = unknown> {
  backend: Backend<S>;
  params: ParamArena<S>;
  buffers: ParamArena<S>;
}

/** Allocates every parameter and buffer of `root` and fills them from their initialisers. */
export function materialize<S>(root: Module<S>, backend: Backend<S>, r: Rng): ModelStorage<S> {
  const params = root.namedParameters();
  const buffers = root.namedBuffers();
  const pArena = backend.arena(params.map(([, s]) => s.size));
  const bArena = backend.arena(buffers.map(([, s]) => s.size));
  params.forEach(([, s], i) => {
    s.tensor = Tensor.borrowed(backend, pArena.slices[i], s.shape, true);
    backend.write(pArena.slices[i], s.init(r, s.size));
  });
  buffers.forEach(([, s], i) => {
    s.tensor = Tensor.borrowed(backend, bArena.slices[i], s.shape, false);
    backend.write(bArena.slices[i], s.init(r, s.size));
  });
  return { backend, params: pArena, buffers: bArena };
}
