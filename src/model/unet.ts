// The ResNet-34 UNet in segmentation_models_pytorch's `Unet("resnet34", classes=1)` layout: the
// torchvision ResNet-34 without avgpool/fc as the encoder; decoder blocks of 256, 128, 64, 32, 16
// channels, each nearest 2x upsample, concat with the skip, (conv3x3-BN-ReLU) x 2; a 3x3 head to one
// channel. 24,436,369 trainable parameters. Input NHWC with 4 channels (RGB, ImageNet-normalised, and a
// zero channel so the stem conv reads whole vec4s); output logits NHWC with 1 channel.
import { F, type Tensor } from '../autograd/index.js';
import { heUniformFanIn, xavierUniform } from './init.js';
import { BatchNorm2d, Conv2d, ConvBnRelu } from './layers.js';
import { Module } from './module.js';

/** Trainable parameters in PyTorch's layout (segmentation_models_pytorch's count; our stem pads its input to 4 channels). */
export const UNET_PARAMETERS = 24_436_369;
/** Channels of the network's input: RGB plus one zero channel. */
export const INPUT_CHANNELS = 4;
const RGB = 3;
/** The ResNet-34 stages: output channels and basic blocks. */
export const ENCODER_LAYERS = [
  { channels: 64, blocks: 3 },
  { channels: 128, blocks: 4 },
  { channels: 256, blocks: 6 },
  { channels: 512, blocks: 3 },
];
export const DECODER_CHANNELS = [256, 128, 64, 32, 16];
/** Skip channels reaching each decoder block: layer3, layer2, layer1, the stem, none. */
export const SKIP_CHANNELS = [256, 128, 64, 64, 0];

class Downsample<S = unknown> extends Module<S> {
  readonly conv: Conv2d<S>;
  readonly bn: BatchNorm2d<S>;
  constructor(cin: number, cout: number) {
    super();
    this.conv = this.child('0', new Conv2d<S>(cin, cout, 1, { stride: 2, pad: 0 }));
    this.bn = this.child('1', new BatchNorm2d<S>(cout));
  }
  forward(x: Tensor<S>): Tensor<S> {
    return this.bn.forward(this.conv.forward(x));
  }
}

class BasicBlock<S = unknown> extends Module<S> {
  readonly conv1: Conv2d<S>;
  readonly bn1: BatchNorm2d<S>;
  readonly conv2: Conv2d<S>;
  readonly bn2: BatchNorm2d<S>;
  readonly downsample: Downsample<S> | null;

  constructor(cin: number, cout: number, stride: number) {
    super();
    this.conv1 = this.child('conv1', new Conv2d<S>(cin, cout, 3, { stride }));
    this.bn1 = this.child('bn1', new BatchNorm2d<S>(cout));
    this.conv2 = this.child('conv2', new Conv2d<S>(cout, cout, 3));
    this.bn2 = this.child('bn2', new BatchNorm2d<S>(cout));
    this.downsample = stride !== 1 || cin !== cout ? this.child('downsample', new Downsample<S>(cin, cout)) : null;
  }

  /** conv2(relu(bn1(conv1(x)))) and the shortcut: what both forwards add after bn2. */
  private branches(x: Tensor<S>): { residual: Tensor<S>; identity: Tensor<S> } {
    const h = this.bn1.forward(this.conv1.forward(x), 'relu');
    return { residual: this.conv2.forward(h), identity: this.downsample ? this.downsample.forward(x) : x };
  }

  forward(x: Tensor<S>): Tensor<S> {
    const { residual, identity } = this.branches(x);
    // relu(bn2(conv2(h)) + identity), fused into the norm.
    return this.bn2.forward(residual, 'add-relu', identity);
  }

  /** The same output, and its pre-activation bn2(conv2(h)) + identity (the same arithmetic, unfused). */
  forwardWithPre(x: Tensor<S>): { out: Tensor<S>; pre: Tensor<S> } {
    const { residual, identity } = this.branches(x);
    const pre = F.add(this.bn2.forward(residual), identity);
    return { out: F.relu(pre), pre };
  }
}

class Layer<S = unknown> extends Module<S> {
  readonly blocks: BasicBlock<S>[];
  constructor(cin: number, cout: number, count: number, stride: number) {
    super();
    this.blocks = Array.from({ length: count }, (_, i) =>
      this.child(String(i), new BasicBlock<S>(i === 0 ? cin : cout, cout, i === 0 ? stride : 1)),
    );
  }
  forward(x: Tensor<S>): Tensor<S> {
    return this.blocks.reduce((h, b) => b.forward(h), x);
  }

  /** The layer's output and the pre-activation of its last block. */
  forwardWithPre(x: Tensor<S>): { out: Tensor<S>; pre: Tensor<S> } {
    const h = this.blocks.slice(0, -1).reduce((a, b) => b.forward(a), x);
    return this.blocks[this.blocks.length - 1]!.forwardWithPre(h);
  }
}

export class ResNet34Encoder<S = unknown> extends Module<S> {
  readonly conv1: Conv2d<S>;
  readonly bn1: BatchNorm2d<S>;
  readonly layers: Layer<S>[];

  constructor() {
    super();
    this.conv1 = this.child('conv1', new Conv2d<S>(INPUT_CHANNELS, 64, 7, { stride: 2, pad: 3, torchCin: RGB }));
    this.bn1 = this.child('bn1', new BatchNorm2d<S>(64));
    let cin = 64;
    this.layers = ENCODER_LAYERS.map(({ channels, blocks }, i) => {
      const layer = this.child(`layer${i + 1}`, new Layer<S>(cin, channels, blocks, i === 0 ? 1 : 2));
      cin = channels;
      return layer;
    });
  }

  /** Features at strides 2, 4, 8, 16, 32 (the stem's, then each layer's). */
  forward(x: Tensor<S>): Tensor<S>[] {
    return this.forwardWithPre(x, null).features;
  }

  /** The features, and with `preLayer` (1 to 4) that layer's output before its last ReLU. */
  forwardWithPre(x: Tensor<S>, preLayer: number | null): { features: Tensor<S>[]; pre: Tensor<S> | null } {
    const stem = this.bn1.forward(this.conv1.forward(x), 'relu');
    const features = [stem];
    let pre: Tensor<S> | null = null;
    let h = F.maxPool2d(stem, 3, 2, 1);
    this.layers.forEach((layer, i) => {
      if (i + 1 === preLayer) ({ out: h, pre } = layer.forwardWithPre(h));
      else h = layer.forward(h);
      features.push(h);
    });
    return { features, pre };
  }
}

class DecoderBlock<S = unknown> extends Module<S> {
  readonly conv1: ConvBnRelu<S>;
  readonly conv2: ConvBnRelu<S>;
  constructor(cin: number, skip: number, cout: number) {
    super();
    this.conv1 = this.child('conv1', new ConvBnRelu<S>(cin + skip, cout, heUniformFanIn((cin + skip) * 9)));
    this.conv2 = this.child('conv2', new ConvBnRelu<S>(cout, cout, heUniformFanIn(cout * 9)));
  }
  forward(x: Tensor<S>, skip: Tensor<S> | null): Tensor<S> {
    let h = F.upsample2x(x);
    if (skip) h = F.concat(h, skip);
    return this.conv2.forward(this.conv1.forward(h));
  }
}

class Decoder<S = unknown> extends Module<S> {
  readonly blocks: DecoderBlock<S>[];
  constructor() {
    super();
    const blocks = new BlocksList<S>();
    this.child('blocks', blocks);
    let cin = 512;
    this.blocks = DECODER_CHANNELS.map((cout, i) => {
      const b = blocks.add(String(i), new DecoderBlock<S>(cin, SKIP_CHANNELS[i]!, cout));
      cin = cout;
      return b;
    });
  }
  /** features: the encoder's, shallowest first. */
  forward(features: Tensor<S>[]): Tensor<S> {
    const skips = features.slice(0, -1).reverse();
    return this.blocks.reduce((h, block, i) => block.forward(h, skips[i] ?? null), features[features.length - 1]!);
  }
}

/** A list of children named 0, 1, ... (PyTorch's ModuleList). */
class BlocksList<S = unknown> extends Module<S> {
  add<M extends Module<S>>(name: string, m: M): M {
    return this.child(name, m);
  }
}

class SegmentationHead<S = unknown> extends Module<S> {
  readonly conv: Conv2d<S>;
  constructor(cin: number) {
    super();
    this.conv = this.child('0', new Conv2d<S>(cin, 1, 3, { bias: true, init: xavierUniform(cin * 9, 9) }));
  }
  forward(x: Tensor<S>): Tensor<S> {
    return this.conv.forward(x);
  }
}

export class Unet<S = unknown> extends Module<S> {
  readonly encoder: ResNet34Encoder<S>;
  readonly decoder: Decoder<S>;
  readonly head: SegmentationHead<S>;

  constructor() {
    super();
    this.encoder = this.child('encoder', new ResNet34Encoder<S>());
    this.decoder = this.child('decoder', new Decoder<S>());
    this.head = this.child('segmentation_head', new SegmentationHead<S>(DECODER_CHANNELS[DECODER_CHANNELS.length - 1]!));
  }

  /**
   * x: [n, s, s, 4] with s a multiple of 32. Returns logits [n, s, s, 1] and the encoder features; with
   * `preLayer` (1 to 4), also that encoder layer's output before its last ReLU (`pre`).
   */
  forwardWithFeatures(x: Tensor<S>, preLayer: number | null = null): { logits: Tensor<S>; features: Tensor<S>[]; pre: Tensor<S> | null } {
    const s = x.shape[1]!;
    if (x.shape.length !== 4 || x.shape[3] !== INPUT_CHANNELS || s % 32 !== 0 || x.shape[2] !== s) {
      throw new Error(`Unet: input must be [n, s, s, ${INPUT_CHANNELS}] with s a multiple of 32, got [${x.shape.join(', ')}]`);
    }
    const { features, pre } = this.encoder.forwardWithPre(x, preLayer);
    return { logits: this.head.forward(this.decoder.forward(features)), features, pre };
  }

  forward(x: Tensor<S>): Tensor<S> {
    return this.forwardWithFeatures(x).logits;
  }
}

/**
 * Why a batch of n images of s x s cannot go through the UNet in training mode, or null: s must halve
 * five times, and the deepest batch norm needs more than one value per channel (n * (s/32)^2 > 1).
 */
export function unetInputProblem(batch: number, size: number): string | null {
  if (size % 32 !== 0) return `--size must be a multiple of 32 (the UNet halves it five times), got ${size}`;
  if (batch * (size / 32) ** 2 < 2) return `--batch ${batch} at --size ${size} leaves one value per channel in the deepest batch norm; use --batch 2 or more`;
  return null;
}

/** Trainable parameters in PyTorch's count (the stem's zero-padded channel excluded). */
export function torchParameterCount<S>(m: Module<S>): number {
  return m.namedParameters().reduce((n, [, s]) => {
    const l = s.layout;
    return n + (l.kind === 'conv' ? (s.size / s.shape[2]!) * l.torchCin : s.size);
  }, 0);
}
