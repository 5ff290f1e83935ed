// The engine's shared vocabulary besides shapes (./geometry.ts): element-wise op names, the fused
// activations of batch norm, Adam's hyper-parameters, and the flat arenas parameters live in. The bottom
// layer: it imports nothing of the project, and every layer above (gpu, kernels, backend, autograd,
// model, train) speaks it.

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
/** Activation fused after batch norm: none, ReLU, or residual add then ReLU. */
export type BnFuse = 'none' | 'relu' | 'add-relu';

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (AdamW); 0 for plain Adam. */
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
}

/**
 * One flat allocation holding many tensors (parameters, their gradients, Adam's moments), each slice
 * aligned for binding, so one optimizer dispatch updates them all and a checkpoint is one copy.
 */
export interface ParamArena<S> {
  slices: S[];
  /** The whole allocation, alignment gaps included (they stay zero). */
  whole: S;
  /** Elements in `whole`. */
  size: number;
  destroy(): void;
}
