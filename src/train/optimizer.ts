// Adam over the model's parameter arena: gradients are gathered into an arena of the same layout and
// one optimizer call updates every parameter (one dispatch on the GPU, a few when the arena is larger
// than one binding). Moments live in arenas too, so saving the optimizer is two copies.
import type { Backend } from '../backend/backend.js';
import type { AdamHyper, ParamArena } from '../core/types.js';
import type { Slot } from '../model/module.js';
import type { ModelStorage } from '../model/module.js';
import * as K from '../backend/kernels.js';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam on storage S: the model's arenas, its slots and its moments all live on one backend. */
export class Adam<S = unknown> {
  readonly grads: ParamArena<S>;
  readonly m: ParamArena<S>;
  readonly v: ParamArena<S>;
  step = 0;
  readonly backend: Backend<S>;
  private readonly hyper: Omit<AdamHyper, 'lr' | 'step'>;

  constructor(
    private readonly storage: ModelStorage<S>,
    private readonly slots: Slot<S>[],
    o: AdamOptions = {},
  ) {
    this.backend = storage.backend;
    const sizes = slots.map((s) => s.size);
    this.grads = this.backend.arena(sizes);
    this.m = this.backend.arena(sizes);
    this.v = this.backend.arena(sizes);
    this.hyper = { beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0 };
  }

  /** Applies one update from the parameters' .grad (then dropped), recorded with the step's kernels. */
  update(lr: number): void {
    this.step++;
    this.slots.forEach((slot, i) => {
      const t = slot.t;
      if (t.grad) {
        this.backend.copy(t.grad.data, this.grads.slices[i], slot.size);
        t.grad.dispose();
        t.grad = null;
      } else {
        // A parameter the loss did not reach (rare): no stale gradient from the last step.
        const zeros = this.backend.fill(0, slot.size);
        this.backend.copy(zeros, this.grads.slices[i], slot.size);
        this.backend.free(zeros);
      }
    });
    K.adam(this.backend, this.storage.params.whole, this.grads.whole, this.m.whole, this.v.whole, this.storage.params.size, {
      ...this.hyper,
      lr,
      step: this.step,
    });
  }

  /** The moments as host arrays (arena layout), for checkpoints. */
  async readState(): Promise<{ m: Float32Array; v: Float32Array; step: number }> {
    const m = Float32Array.from(await this.backend.download(this.m.whole, this.m.size));
    const v = Float32Array.from(await this.backend.download(this.v.whole, this.v.size));
    return { m, v, step: this.step };
  }

  /** Restores moments and step saved by readState (resuming a run); `source` names the file in errors. */
  loadState(m: Float32Array, v: Float32Array, step: number, source: string): void {
    if (m.length !== this.m.size || v.length !== this.v.size) {
      throw new Error(`${source}: Adam moments of ${m.length} and ${v.length} values, this model's arena holds ${this.m.size}`);
    }
    this.backend.write(this.m.whole, m);
    this.backend.write(this.v.whole, v);
    this.step = step;
  }

  destroy(): void {
    this.grads.destroy();
    this.m.destroy();
    this.v.destroy();
  }
}

/** Linear warm-up over `warmup` of the steps, then cosine decay to zero (METHOD.md's schedule). */
export function learningRate(step: number, steps: number, peak: number, warmup = 0.05): number {
  const warm = Math.max(1, Math.round(warmup * steps));
  if (step < warm) return (peak * (step + 1)) / warm;
  const t = (step - warm) / Math.max(1, steps - warm);
  return 0.5 * peak * (1 + Math.cos(Math.PI * Math.min(1, t)));
}
