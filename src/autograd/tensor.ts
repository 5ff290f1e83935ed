// Tensor and the tape. Each result of a differentiable op keeps its inputs and a backward closure;
// backward() sorts the graph and walks it in reverse (micrograd's shape, on backend storage).
//
// Memory: every tensor created inside a scope() is freed when the scope ends, except the ones it
// returns and the ones marked keep() (parameters, gradients of leaves). A training step is one scope.
import type { Backend } from '../backend/backend.js';
import { type Shape, checkShape, fmt, sizeOf } from '../core/geometry.js';
import * as K from '../backend/kernels.js';

/** What a differentiable op leaves on its result for the backward pass. */
export interface TapeNode<S> {
  op: string;
  inputs: Tensor<S>[];
  /** Gradients for each input (null where none is needed), from the gradient of the output. */
  backward: (dy: Tensor<S>) => (Tensor<S> | null)[];
  /** Storage the backward needs beyond inputs and output (batch statistics, ...); freed with the output. */
  saved: S[];
}

let gradEnabled = true;
// Tensors of every storage type: a scope frees whatever was made in it.
const scopes: Set<Tensor<any>>[] = [];

/**
 * A tensor over storage S of its backend (a GPU BufferRef, a Float64Array): mixing tensors of two
 * backends, or handing one backend's storage to another, does not compile.
 */
export class Tensor<S = unknown> {
  readonly size: number;
  grad: Tensor<S> | null = null;
  node: TapeNode<S> | null = null;
  private disposed = false;
  private ownsStorage = true;

  constructor(
    readonly backend: Backend<S>,
    public data: S,
    readonly shape: Shape,
    public requiresGrad = false,
  ) {
    checkShape(shape);
    this.size = sizeOf(shape);
    scopes[scopes.length - 1]?.add(this);
  }

  static from<S>(backend: Backend<S>, values: ArrayLike<number>, shape: Shape, requiresGrad = false): Tensor<S> {
    const size = sizeOf(shape);
    if (values.length !== size) throw new Error(`Tensor.from: ${values.length} values do not fill shape ${fmt(shape)}`);
    return new Tensor(backend, backend.upload(values), shape, requiresGrad);
  }

  /**
   * A tensor over storage it does not own (a parameter's slice of an arena): dispose() never frees it,
   * and it is kept beyond every scope.
   */
  static borrowed<S>(backend: Backend<S>, data: S, shape: Shape, requiresGrad = false): Tensor<S> {
    const t = new Tensor(backend, data, shape, requiresGrad);
    t.ownsStorage = false;
    return t.keep();
  }

  static zeros<S>(backend: Backend<S>, shape: Shape, requiresGrad = false): Tensor<S> {
    return new Tensor(backend, backend.fill(0, sizeOf(shape)), shape, requiresGrad);
  }

  static full<S>(backend: Backend<S>, shape: Shape, value: number): Tensor<S> {
    return new Tensor(backend, backend.fill(value, sizeOf(shape)), shape);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Values as float64 (the GPU's float32 widened). Asynchronous: it waits for the GPU. */
  async toArray(): Promise<Float64Array> {
    this.assertLive('toArray');
    return this.backend.download(this.data, this.size);
  }

  /** The same storage seen with another shape of the same size (no copy; shares lifetime rules). */
  reshape(shape: Shape): Tensor<S> {
    if (sizeOf(shape) !== this.size) throw new Error(`reshape: ${fmt(this.shape)} cannot become ${fmt(shape)}`);
    return reshapeView(this, shape);
  }

  /** Survives the enclosing scopes until dispose() (parameters, optimizer state, gradients). */
  keep(): this {
    for (const s of scopes) s.delete(this);
    return this;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.viewOf && this.ownsStorage) this.backend.free(this.data);
    for (const s of this.node?.saved ?? []) this.backend.free(s);
    this.node = null;
    for (const s of scopes) s.delete(this);
  }

  /** Set on views made by reshape(): they share storage and never free it. */
  viewOf: Tensor<S> | null = null;

  assertLive(what: string): void {
    if (this.disposed) throw new Error(`${what}: tensor ${fmt(this.shape)} was already disposed`);
  }

  /**
   * Backpropagates from this tensor (a scalar unless `seed` is given). Gradients of leaves that
   * require them are accumulated into their `.grad`, which is kept beyond the scope.
   */
  backward(seed?: Tensor<S>): void {
    if (!seed && this.size !== 1) throw new Error(`backward: needs a scalar or a seed gradient, got ${fmt(this.shape)}`);
    const order = topoSort(this);
    const grads = new Map<Tensor<S>, Tensor<S>>();
    grads.set(this, seed ?? Tensor.full(this.backend, this.shape, 1));
    const wasEnabled = gradEnabled;
    gradEnabled = false;
    try {
      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i]!;
        const g = grads.get(t);
        if (!g) continue;
        if (!t.node) {
          if (t.requiresGrad) accumulateLeafGrad(t, g);
          continue;
        }
        // Its own scope: what a rule makes on the way (wrapped intermediates) is freed when it returns.
        const node = t.node;
        const inputGrads = scope(() => node.backward(g));
        t.node.inputs.forEach((input, k) => {
          const gi = inputGrads[k];
          if (!gi || !input?.requiresGrad) return;
          if (!sameShape(gi.shape, input.shape)) {
            throw new Error(`backward of ${t.node!.op}: gradient ${fmt(gi.shape)} for an input of ${fmt(input.shape)}`);
          }
          const prev = grads.get(input);
          grads.set(input, prev ? addGrads(prev, gi) : gi);
        });
      }
    } finally {
      gradEnabled = wasEnabled;
    }
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function reshapeView<S>(t: Tensor<S>, shape: Shape): Tensor<S> {
  const root = t.viewOf ?? t;
  const view = new Tensor(t.backend, t.data, shape, t.requiresGrad);
  view.viewOf = root;
  if (gradEnabled && t.requiresGrad) {
    view.node = { op: 'reshape', inputs: [t], saved: [], backward: (dy) => [dy.reshape(t.shape)] };
  }
  return view;
}

function addGrads<S>(a: Tensor<S>, b: Tensor<S>): Tensor<S> {
  return new Tensor(a.backend, K.binary(a.backend, 'add', a.data, a.shape, b.data, b.shape, a.shape), a.shape);
}

function accumulateLeafGrad<S>(leaf: Tensor<S>, g: Tensor<S>): void {
  // A view's storage belongs to another tensor; the leaf's gradient gets its own.
  const own = g.viewOf ? new Tensor(g.backend, K.scale(g.backend, g.data, 1, g.size), g.shape) : g;
  if (leaf.grad) {
    const sum = addGrads(leaf.grad, own).keep();
    leaf.grad.dispose();
    leaf.grad = sum;
  } else {
    leaf.grad = own.keep();
  }
}

function topoSort<S>(root: Tensor<S>): Tensor<S>[] {
  const order: Tensor<S>[] = [];
  const seen = new Set<Tensor<S>>();
  // Iterative depth-first search: the UNet's graph is deep enough to matter for the JS stack.
  const stack: [Tensor<S>, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the tape (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const was = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = was;
  }
}

/**
 * Runs fn and frees every tensor it created, except those it returns (they move to the enclosing
 * scope) and those marked keep(). Synchronous only: the scope stack is one per module, so a scope held
 * open across an await would collect the tensors of whatever else ran meanwhile. To read results back,
 * return the tensors and await their toArray() after the scope (test/helpers.ts readScoped), or return
 * the promise of a readback started inside it (it holds no tensor).
 */
export function scope<T>(fn: () => T): T {
  if (fn.constructor.name === 'AsyncFunction') throw new Error('scope: fn must be synchronous (see the comment on scope)');
  const created = new Set<Tensor<any>>();
  scopes.push(created);
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    const idx = scopes.lastIndexOf(created);
    if (idx >= 0) scopes.splice(idx, 1);
    const returned = new Set<Tensor<any>>(collect(result));
    // A returned view keeps its root's storage alive too.
    for (const t of [...returned]) if (t.viewOf) returned.add(t.viewOf);
    for (const t of created) {
      if (returned.has(t)) scopes[scopes.length - 1]?.add(t);
      else t.dispose();
    }
  }
}

/** Tensors in a scope's result: the result itself, or the members of a returned array or object. */
function collect(result: unknown): Tensor<any>[] {
  if (result instanceof Tensor) return [result];
  if (Array.isArray(result)) return result.filter((t) => t instanceof Tensor);
  if (result && typeof result === 'object') return Object.values(result).filter((t) => t instanceof Tensor);
  return [];
}
