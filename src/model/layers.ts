// Conv2d and BatchNorm2d on the autograd.
import type { BnFuse } from '../core/types.js';
import { F, type Tensor } from '../autograd/index.js';
import { constant, heNormalFanOut } from './init.js';
import { Module, type Slot } from './module.js';

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
  bias?: boolean;
  /** Input channels in PyTorch's weight when ours are zero-padded (the stem: 3 stored, 4 here). */
  torchCin?: number;
  init?: Slot['init'];
  biasInit?: Slot['init'];
}

export class Conv2d extends Module {
  readonly weight: Slot;
  readonly bias: Slot | null;
  readonly stride: number;
  readonly pad: number;

  constructor(readonly cin: number, readonly cout: number, readonly k: number, o: Conv2dOptions = {}) {
    super();
    this.stride = o.stride ?? 1;
    this.pad = o.pad ?? (k - 1) / 2;
    const torchCin = o.torchCin ?? cin;
    const init = o.init ?? heNormalFanOut(cout * k * k);
    // Padded input channels start (and, with zero inputs, stay) at zero.
    const padded: Slot['init'] =
      torchCin === cin ? init : (r, size) => zeroPaddedChannels(init(r, size), cin, torchCin, cout);
    this.weight = this.param('weight', [k, k, cin, cout], { kind: 'conv', torchCin }, padded);
    this.bias = o.bias ? this.param('bias', [cout], { kind: 'plain' }, o.biasInit ?? constant(0)) : null;
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight.t, this.bias?.t ?? null, this.stride, this.pad);
  }
}

function zeroPaddedChannels(w: Float32Array, cin: number, torchCin: number, cout: number): Float32Array {
  for (let i = 0; i < w.length; i++) if (Math.floor(i / cout) % cin >= torchCin) w[i] = 0;
  return w;
}

export class BatchNorm2d extends Module {
  readonly weight: Slot;
  readonly bias: Slot;
  readonly runningMean: Slot;
  readonly runningVar: Slot;
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

  forward(x: Tensor, fuse: BnFuse = 'none', residual?: Tensor): Tensor {
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
export class ConvBnRelu extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(cin: number, cout: number, init: Slot['init']) {
    super();
    this.conv = this.child('0', new Conv2d(cin, cout, 3, { init }));
    this.bn = this.child('1', new BatchNorm2d(cout));
  }

  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x), 'relu');
  }
}
