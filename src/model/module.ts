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

export class Slot {
  tensor: Tensor | null = null;

  constructor(
    readonly shape: number[],
    readonly layout: Layout,
    readonly init: (r: Rng, size: number) => Float32Array,
  ) {}

  get size(): number {
    return sizeOf(this.shape);
  }

  /** The tensor; throws before materialize(). */
  get t(): Tensor {
    if (!this.tensor) throw new Error('model parameters are not materialized yet');
    return this.tensor;
  }
}

export abstract class Module {
  private readonly children: [string, Module][] = [];
  private readonly params: [string, Slot][] = [];
  private readonly buffers: [string, Slot][] = [];
  /** Forward passes in training mode (PyTorch's num_batches_tracked), per batch-norm layer. */
  training = true;

  protected child<M extends Module>(name: string, m: M): M {
    this.children.push([name, m]);
    return m;
  }

  protected param(name: string, shape: number[], layout: Layout, init: Slot['init']): Slot {
    const s = new Slot(shape, layout, init);
    this.params.push([name, s]);
    return s;
  }

  protected buffer(name: string, shape: number[], init: Slot['init']): Slot {
    const s = new Slot(shape, { kind: 'plain' }, init);
    this.buffers.push([name, s]);
    return s;
  }

  namedParameters(prefix = ''): [string, Slot][] {
    return [
      ...this.params.map(([n, s]): [string, Slot] => [prefix + n, s]),
      ...this.children.flatMap(([n, c]) => c.namedParameters(`${prefix}${n}.`)),
    ];
  }

  namedBuffers(prefix = ''): [string, Slot][] {
    return [
      ...this.buffers.map(([n, s]): [string, Slot] => [prefix + n, s]),
      ...this.children.flatMap(([n, c]) => c.namedBuffers(`${prefix}${n}.`)),
    ];
  }

  modules(): Module[] {
    return [this, ...this.children.flatMap(([, c]) => c.modules())];
  }

  setTraining(training: boolean): void {
    for (const m of this.modules()) m.training = training;
  }
}

/** Where a materialized model's storage lives: one arena for the parameters, one for the buffers. */
export interface ModelStorage {
  backend: Backend;
  params: ParamArena<unknown>;
  buffers: ParamArena<unknown>;
}

/** Allocates every parameter and buffer of `root` and fills them from their initialisers. */
export function materialize(root: Module, backend: Backend, r: Rng): ModelStorage {
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
