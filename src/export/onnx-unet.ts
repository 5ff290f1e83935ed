// The ONNX graph of a UNet state dict, emitted node by node after src/model/unet.ts, and the graph's
// interface (below). Apart from the command (onnx.ts) that reads a run folder and writes the file.
//
// The graph computes what gpuseg's predict computes (src/model/unet.ts, src/evaluate/inference.ts):
//   input  `image`        float32 NCHW [1 or 'batch', 3, S, S]: RGB in [0, 1], i.e. byte / 255, the
//                         values readImage gives. The ImageNet normalisation ((x - mean) / std per
//                         channel, as packInput does) is inside the graph, so callers feed plain pixels.
//   output `probability`  float32 [N, 1, S, S], sigmoid of the logits (predict's maps);
//          `logit`        float32 [N, 1, S, S], before the sigmoid.
// S is fixed at export (the run's size by default): the UNet's five halvings need a multiple of 32.
import { IMAGENET_MEAN, IMAGENET_STD } from '../data/imagenet.js';
import { BatchNorm2d } from '../model/layers.js';
import type { NamedTensor } from '../model/safetensors.js';
import { DECODER_CHANNELS, ENCODER_LAYERS, SKIP_CHANNELS } from '../model/unet.js';
import { GraphBuilder, attr, floatValue } from './onnx-graph.js';
import type { OnnxModel } from './onnx-proto.js';
import { type BatchNormStats, BN_TENSORS, Weights, foldBatchNorm } from './onnx-weights.js';

/** Resize with a scales input and an omissible roi, and today's operator forms, start at opset 13. */
export const MIN_OPSET = 13;
/** The newest opset whose IR version we know (ONNX 1.18/1.19: opset 23, IR 11). */
export const MAX_OPSET = 23;
/** The IR version that each range of opsets shipped with (ONNX's Versioning.md release table). */
const IR_VERSIONS: [maxOpset: number, ir: number][] = [[14, 7], [18, 8], [20, 9], [22, 10], [23, 11]];
const RGB = 3;
export const BATCH_PARAM = 'batch';

export const INPUT_NAME = 'image';
export const OUTPUT_PROBABILITY = 'probability';
export const OUTPUT_LOGIT = 'logit';
export const NORMALIZATION =
  'inside the graph: feed RGB in [0, 1] (byte / 255), NCHW; the graph subtracts the ImageNet mean and divides by its std per channel';

export type BatchNormMode = 'fold' | 'nodes';

function irVersionFor(opset: number): number {
  const found = IR_VERSIONS.find(([max]) => opset <= max);
  if (!found) throw new Error(`onnx: no IR version known for opset ${opset}`);
  return found[1];
}

export interface UnetGraphOptions {
  size: number;
  dynamicBatch: boolean;
  opset: number;
  batchNorm: BatchNormMode;
}

/** The ONNX model of a UNet state dict (smp names, PyTorch layouts); `source` names it in errors. */
export function buildUnetOnnx(tensors: Map<string, NamedTensor>, source: string, o: UnetGraphOptions, metadata: Record<string, string> = {}): { model: OnnxModel; nodes: number } {
  const g = new GraphBuilder();
  const weights = new Weights(tensors, source);
  const unet = new UnetGraph(g, weights, o.batchNorm === 'fold');
  const image = g.input(INPUT_NAME);
  unet.head(unet.decoder(unet.encoder(unet.normalize(image))));
  weights.checkAllUsed();

  const batch = o.dynamicBatch ? BATCH_PARAM : 1;
  const doc = `gpuseg ResNet-34 UNet (segmentation_models_pytorch Unet("resnet34", classes=1)), eval mode, batch norm ${o.batchNorm === 'fold' ? 'folded into the convolutions' : 'as BatchNormalization nodes'}; input normalisation ${NORMALIZATION}`;
  const graph = g.build(
    'gpuseg_unet',
    [floatValue(INPUT_NAME, [batch, RGB, o.size, o.size], 'RGB in [0, 1], NCHW')],
    [
      floatValue(OUTPUT_PROBABILITY, [batch, 1, o.size, o.size], 'defect probability per pixel (sigmoid of logit)'),
      floatValue(OUTPUT_LOGIT, [batch, 1, o.size, o.size], 'logit per pixel'),
    ],
    doc,
  );
  const model: OnnxModel = {
    ir_version: irVersionFor(o.opset),
    producer_name: 'gpuseg',
    doc_string: doc,
    opset_import: [{ domain: '', version: o.opset }],
    graph,
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  return { model, nodes: g.nodeCount };
}

interface ConvShape {
  cin: number;
  cout: number;
  k: number;
  stride: number;
}

/** Emits the UNet of src/model/unet.ts node by node, values named after its modules. */
class UnetGraph {
  private scales: string | null = null;

  constructor(private readonly g: GraphBuilder, private readonly w: Weights, private readonly fold: boolean) {}

  /** (x - mean) / std per channel, as packInput does before the stem. */
  normalize(image: string): string {
    const mean = this.g.constant('imagenet.mean', [1, RGB, 1, 1], Float32Array.from(IMAGENET_MEAN));
    const std = this.g.constant('imagenet.std', [1, RGB, 1, 1], Float32Array.from(IMAGENET_STD));
    return this.g.node('Div', [this.g.node('Sub', [image, mean], 'image.centred'), std], 'image.normalized');
  }

  /** The stem's and each ResNet stage's output (strides 2, 4, 8, 16, 32), as ResNet34Encoder.forward. */
  encoder(x: string): string[] {
    const stem = this.convBn(x, 'encoder.conv1', 'encoder.bn1', { cin: RGB, cout: 64, k: 7, stride: 2 }, true);
    const features = [stem];
    let h = this.g.node('MaxPool', [stem], 'encoder.maxpool', [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])]);
    let cin = 64;
    ENCODER_LAYERS.forEach(({ channels, blocks }, i) => {
      for (let b = 0; b < blocks; b++) {
        const stride = b === 0 && i > 0 ? 2 : 1;
        h = this.basicBlock(h, `encoder.layer${i + 1}.${b}`, b === 0 ? cin : channels, channels, stride);
      }
      features.push(h);
      cin = channels;
    });
    return features;
  }

  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), the identity downsampled where the shape changes. */
  private basicBlock(x: string, prefix: string, cin: number, cout: number, stride: number): string {
    const h = this.convBn(x, `${prefix}.conv1`, `${prefix}.bn1`, { cin, cout, k: 3, stride }, true);
    const y = this.convBn(h, `${prefix}.conv2`, `${prefix}.bn2`, { cin: cout, cout, k: 3, stride: 1 }, false);
    const identity =
      stride !== 1 || cin !== cout ? this.convBn(x, `${prefix}.downsample.0`, `${prefix}.downsample.1`, { cin, cout, k: 1, stride }, false) : x;
    return this.g.node('Relu', [this.g.node('Add', [y, identity], `${prefix}.add`)], `${prefix}.relu`);
  }

  /** Decoder blocks: nearest 2x upsample, concat [upsampled, skip] on channels, (conv3x3-BN-ReLU) x 2. */
  decoder(features: string[]): string {
    const skips = features.slice(0, -1).reverse();
    let h = features[features.length - 1]!;
    let cin = ENCODER_LAYERS[ENCODER_LAYERS.length - 1]!.channels;
    DECODER_CHANNELS.forEach((cout, i) => {
      const prefix = `decoder.blocks.${i}`;
      let x = this.upsample(h, `${prefix}.upsample`);
      const skip = skips[i];
      if (skip) x = this.g.node('Concat', [x, skip], `${prefix}.concat`, [attr.int('axis', 1)]);
      const c = cin + (skip ? SKIP_CHANNELS[i]! : 0);
      h = this.convBn(x, `${prefix}.conv1.0`, `${prefix}.conv1.1`, { cin: c, cout, k: 3, stride: 1 }, true);
      h = this.convBn(h, `${prefix}.conv2.0`, `${prefix}.conv2.1`, { cin: cout, cout, k: 3, stride: 1 }, true);
      cin = cout;
    });
    return h;
  }

  /** The 3x3 head to one channel (with bias), and its sigmoid. */
  head(x: string): void {
    const cin = DECODER_CHANNELS[DECODER_CHANNELS.length - 1]!;
    const shape = { cin, cout: 1, k: 3, stride: 1 };
    const weight = this.g.constant('segmentation_head.0.weight', [1, cin, 3, 3], this.w.take('segmentation_head.0.weight', [1, cin, 3, 3]));
    const bias = this.g.constant('segmentation_head.0.bias', [1], this.w.take('segmentation_head.0.bias', [1]));
    this.g.node('Sigmoid', [this.conv(x, OUTPUT_LOGIT, shape, weight, bias)], OUTPUT_PROBABILITY);
  }

  /** out[y, x] = in[floor(y / 2), floor(x / 2)]: the CPU reference's upsample2x. */
  private upsample(x: string, name: string): string {
    this.scales ??= this.g.constant('upsample.scales', [4], Float32Array.of(1, 1, 2, 2));
    return this.g.node('Resize', [x, '', this.scales], name, [
      attr.string('mode', 'nearest'),
      attr.string('coordinate_transformation_mode', 'asymmetric'),
      attr.string('nearest_mode', 'floor'),
    ]);
  }

  /** conv (bias-free) then eval-mode batch norm, then ReLU if asked: smp's conv -> bn [-> relu]. */
  private convBn(x: string, conv: string, bn: string, shape: ConvShape, relu: boolean): string {
    const dims = [shape.cout, shape.cin, shape.k, shape.k];
    const weight = this.w.take(`${conv}.weight`, dims);
    const stats = this.batchNormStats(bn, shape.cout);
    let y: string;
    if (this.fold) {
      const folded = foldBatchNorm(weight, stats, BatchNorm2d.EPS);
      y = this.conv(x, bn, shape, this.g.constant(`${conv}.weight`, dims, folded.weight), this.g.constant(`${conv}.bias`, [shape.cout], folded.bias));
    } else {
      const c = this.conv(x, conv, shape, this.g.constant(`${conv}.weight`, dims, weight), null);
      const inputs = [stats.gamma, stats.beta, stats.mean, stats.variance].map((data, i) =>
        this.g.constant(`${bn}.${BN_TENSORS[i]!}`, [shape.cout], data),
      );
      y = this.g.node('BatchNormalization', [c, ...inputs], bn, [attr.float('epsilon', BatchNorm2d.EPS)]);
    }
    return relu ? this.g.node('Relu', [y], `${bn}.relu`) : y;
  }

  private batchNormStats(bn: string, c: number): BatchNormStats {
    const [gamma, beta, mean, variance] = BN_TENSORS.map((t) => this.w.take(`${bn}.${t}`, [c])) as [Float32Array, Float32Array, Float32Array, Float32Array];
    return { gamma, beta, mean, variance };
  }

  /** Conv2d with PyTorch's padding (k - 1) / 2, as our Conv2d uses for every kernel size here. */
  private conv(x: string, output: string, shape: ConvShape, weight: string, bias: string | null): string {
    const pad = (shape.k - 1) / 2;
    return this.g.node('Conv', bias ? [x, weight, bias] : [x, weight], output, [
      attr.ints('kernel_shape', [shape.k, shape.k]),
      attr.ints('strides', [shape.stride, shape.stride]),
      attr.ints('pads', [pad, pad, pad, pad]),
    ]);
  }
}
