// Conv2d and BatchNorm2d on the autograd.
import type { BnFuse } from '../core/types.js';
import { F, type Tensor } from '../autograd/index.js';
import { constant, heNormalFanOut } from './init.js';
import { Module, type Slot, type SlotInit } from './module.js';

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
  bias?: boolean;
  /** Input channels in PyTorch's weight when ours are zero-padded (the stem: 3 stored, 4 here). */
  torchCin?: number;
  init?: SlotInit;
  biasInit?: SlotInit;
}

export class Conv2d<S = unknown> extends Module<S> {
  readonly weight: Slot<S>;
  readonly bias: Slot<S> | null;
  readonly stride: number;
  readonly pad: number;

  constructor(readonly cin: number, readonly cout: number, readonly k: number, o: Conv2dOptions = {}) {
    super();
    this.stride = o.stride ?? 1;
    this.pad = o.pad ?? (k - 1) / 2;
    const torchCin = o.torchCin ?? cin;
    const init = o.init ?? heNormalFanOut(cout * k * k);
    // Padded input channels start (and, with zero inputs, stay) at zero.
    const padded: SlotInit =
      torchCin === cin ? init : (r, size) => zeroPaddedChannels(init(r, size), cin, torchCin, cout);
    this.weight = this.param('weight', [k, k, cin, cout], { kind: 'conv', torchCin }, padded);
    this.bias = o.bias ? this.param('bias', [cout], { kind: 'plain' }, o.biasInit ?? constant(0)) : null;
  }

  forward(x: Tensor<S>): Tensor<S> {
    return F.conv2d(x, this.weight.t, this.bias?.t ?? null, this.stride, this.pad);
  }
}

function zeroPaddedChannels(w: Float32Array, cin: number, torchCin: number, cout: number): Float32Array {
  for (let i = 0; i < w.length; i++) if (Math.floor(i / cout) % cin >= torchCin) w[i] = 0;
  return w;
}

export class BatchNorm2d<S = unknown> extends Module<S> {
  readonly weight: Slot<S>;
  readonly bias: Slot<S>;
  readonly runningMean: Slot<S>;
  readonly runningVar: Slot<S>;
  /** PyTorch's num_batches_tracked: training-mode forward passes so far. */
  numBatchesTracked = 0;
  static readonly EPS = 1e-5;
  static readonly MOMENTUM = 0.1;

  constructor(readonly c: number) {
    super();
    this.weight = this.param('weight', [c], { kind: 'plain' }, constant(1));
    this.bias = this.param('bias', [c], { kind: 'plain' }, constant(0));
    this.runningMean = this.buffer('running_mean', [c], constant(0));
    this.runningVar = this.buffer('running_var', [c], constant(1));
  }

  forward(x: Tensor<S>, fuse: BnFuse = 'none', residual?: Tensor<S>): Tensor<S> {
    if (this.training) this.numBatchesTracked++;
    return F.batchNorm(x, {
      gamma: this.weight.t,
      beta: this.bias.t,
      runningMean: this.runningMean.t,
      runningVar: this.runningVar.t,
      training: this.training,
      eps: BatchNorm2d.EPS,
      momentum: BatchNorm2d.MOMENTUM,
      fuse,
      residual,
    });
  }
}

/** smp's Conv2dReLU: conv (no bias) '0', batch norm '1', ReLU fused into the norm. */
export class ConvBnRelu<S = unknown> extends Module<S> {
  readonly conv: Conv2d<S>;
  readonly bn: BatchNorm2d<S>;

  constructor(cin: number, cout: number, init: SlotInit) {
    super();
    this.conv = this.child('0', new Conv2d<S>(cin, cout, 3, { init }));
    this.bn = this.child('1', new BatchNorm2d<S>(cout));
  }

  forward(x: Tensor<S>): Tensor<S> {
    return this.bn.forward(this.conv.forward(x), 'relu');
  }
}
