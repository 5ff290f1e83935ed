// The training flags, shared by `gpuseg train` and `gpuseg experiment` (which passes every one of them
// to each cell), and the parsers of list and choice flags.
import { type Command, Option } from 'commander';
import { MODIFIERS, VARIANT_NAMES, type Variant, isVariant } from '../experiment/variants.js';
import { TRAIN_DEFAULTS } from '../train/trainer.js';
import { tileSize } from './tile-flags.js';
import { InputError, belowOne, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './errors.js';

export const adapterOption = () =>
  new Option('--adapter <name>', 'a backend (vulkan, metal, d3d12, ...) or part of an adapter name (default: the high-performance adapter Dawn offers)').env('GPUSEG_ADAPTER');

export const deviceOption = () =>
  new Option('--device <kind>', 'gpu (WebGPU, any adapter) or cpu (the float64 reference)').choices(['gpu', 'cpu']).default('gpu');

/** The input size of the UNet, for the commands that build one at a size of their own (tune, bench). */
export const inputSizeOption = (defaultSize: number) =>
  new Option('--size <n>', 'input size (a multiple of 32)').argParser(positiveInt('--size')).default(defaultSize);

export const batchOption = (defaultBatch: number, description = 'batch size') =>
  new Option('--batch <n>', description).argParser(positiveInt('--batch')).default(defaultBatch);

/** A comma-separated list, each item parsed by `item` (which names the flag in its errors). */
export function listOf<T>(flag: string, item: (value: string) => T): (value: string) => T[] {
  return (value: string) => {
    const items = value.split(',').map((v) => v.trim());
    if (items.some((v) => v === '')) throw new InputError(`${flag} must be a comma-separated list, got '${value}'`);
    return items.map(item);
  };
}

export function variantName(value: string): Variant {
  if (!isVariant(value)) {
    throw new InputError(`--variants: unknown variant '${value}' (known: ${VARIANT_NAMES.join(', ')}, each optionally followed by +${Object.keys(MODIFIERS).join(', +')})`);
  }
  return value;
}

/** --scale of training: a share of the native size, above 0 and at most 1. */
function scaleFactor(value: string): number {
  const n = positiveNumber('--scale')(value);
  if (n > 1) throw new InputError(`--scale must be a number above 0 and at most 1, got '${value}'`);
  return n;
}

function nbrLayer(value: string): 2 | 3 {
  if (value !== '2' && value !== '3') throw new InputError(`--nbr-layer must be 2 or 3, got '${value}'`);
  return Number(value) as 2 | 3;
}

/** Flags of the data, the schedule and the model, for one run (`--data` is required unless `o.resumable`). */
export function addTrainFlags(c: Command, o: { variantSwitches: boolean; resumable?: boolean }): Command {
  const data = 'category folder: train/good, test/<type>, ground_truth/<type>';
  if (o.resumable) c.option('--data <dir>', `${data} (required, unless --resume)`);
  else c.requiredOption('--data <dir>', data);
  c
    .option('--seed <n>', 'training seed (initialisation, batches, augmentation, crop-and-paste)', nonNegativeInt('--seed'), TRAIN_DEFAULTS.seed)
    // No commander default: with --tile the size is the tile's, and a --size given with it must match.
    .option('--size <n>', `training image size (a multiple of 32; default: ${TRAIN_DEFAULTS.size}, with --tile the tile)`, positiveInt('--size'))
    .option('--tile <n>', "train on n x n tiles cut from the images at their own pixels (times --scale) instead of whole images resized to --size (a multiple of 32); predict and eval then run in tiles too (default: none, whole images)", tileSize)
    .option('--scale <x>', 'with --tile: scale the images by x in (0, 1] before cutting tiles (default: 1)', scaleFactor)
    .addOption(new Option('--resize <how>', 'without --tile: a non-square image becomes square by stretch (width and height scaled apart) or pad (scaled to fit, black bars); predict and eval read the same way (default: stretch)').choices(['stretch', 'pad']))
    .option('--batch <n>', 'annotated samples per step (shots and crop-and-paste samples; normal images come on top)', positiveInt('--batch'), TRAIN_DEFAULTS.batch)
    .option('--steps <n>', 'optimizer steps', positiveInt('--steps'), TRAIN_DEFAULTS.steps)
    .option('--lr <x>', 'peak learning rate (warm-up, then cosine decay)', positiveNumber('--lr'), TRAIN_DEFAULTS.lr)
    .addOption(new Option('--loss <kind>', 'segmentation loss').choices(['bce', 'bce+dice']).default(TRAIN_DEFAULTS.loss));
  if (o.variantSwitches) {
    c.option('--no-nbr', 'without the NBR loss (background and feature terms; no normal images in the batches)')
      .option('--no-crop-paste', 'without crop-and-paste samples')
      .option('--no-weighting', 'crop-and-paste samples keep weight 1 (no similarity weighting)');
  }
  return c
    .option('--lambda-bg <x>', 'weight of the NBR background term', nonNegativeNumber('--lambda-bg'), TRAIN_DEFAULTS.lambdaBg)
    .option('--lambda-feat <x>', 'weight of the NBR feature term', nonNegativeNumber('--lambda-feat'), TRAIN_DEFAULTS.lambdaFeat)
    .option('--nbr-layer <n>', 'encoder layer of the feature term and paste weights: 2 (stride 8) or 3 (stride 16)', nbrLayer, TRAIN_DEFAULTS.nbrLayer)
    .addOption(new Option('--paste <mode>', 'where pasted defects go: anywhere (random place, flip, turn), near (aligned objects: kept near where they were) or matched (where the surroundings look like the defect\'s own)').choices(['anywhere', 'near', 'matched']).default(TRAIN_DEFAULTS.paste))
    .addOption(new Option('--paste-slots <where>', 'crop-and-paste samples: shared (half of --batch, beside the shots) or extra (ours: --batch shots, and half as many pasted samples on top)').choices(['shared', 'extra']).default(TRAIN_DEFAULTS.pasteSlots))
    .option('--normal-per-batch <n>', 'normal images per step, on top of --batch (default: half of --batch with NBR)', nonNegativeInt('--normal-per-batch'))
    .addOption(new Option('--nbr-features <where>', 'features of the NBR feature term and paste weights: relu (after the layer) or pre (before its last ReLU)').choices(['relu', 'pre']).default(TRAIN_DEFAULTS.nbrFeatures))
    .addOption(new Option('--cell-labels <how>', 'feature cells: any (a defect pixel makes a defect cell) or fraction (half the cell; cells beside a defect left out)').choices(['any', 'fraction']).default(TRAIN_DEFAULTS.cellLabels))
    .option('--bg-start <x>', 'share of the steps before the background term starts (ours; normal images pass with weight 0 until then)', belowOne('--bg-start', 'a share of the steps'), TRAIN_DEFAULTS.bgStart)
    .option('--feat-rampup <x>', 'share of the steps over which the feature term weight rises from 0', belowOne('--feat-rampup', 'a share of the steps'), TRAIN_DEFAULTS.featRampup)
    .addOption(new Option('--bg-loss <how>', "background term: mean (every pixel of a normal image), hard (each image's hardest --bg-top share) or hinge (only logits above probability 0.1, by how far)").choices(['mean', 'hard', 'hinge']).default(TRAIN_DEFAULTS.bgLoss))
    .option('--bg-top <x>', 'with --bg-loss hard: the share of pixels averaged', positiveNumber('--bg-top'), TRAIN_DEFAULTS.bgTop)
    .addOption(new Option('--normal-bn <how>', 'normal images through the network with the annotated samples (joint) or apart, with batch statistics of their own (separate)').choices(['joint', 'separate']).default(TRAIN_DEFAULTS.normalBn))
    .option('--synthetic <n>', 'normal images with a synthetic anomaly per step, as extra annotated samples on top of --batch', nonNegativeInt('--synthetic'), TRAIN_DEFAULTS.synthetic)
    .option('--synthetic-phase <x>', 'share of the steps at the start whose annotated samples are all synthetic anomalies on normal images, before the shots', belowOne('--synthetic-phase', 'a share of the steps'), TRAIN_DEFAULTS.syntheticPhase)
    .addOption(deviceOption())
    .option(
      '--encoder-weights <file>',
      "torchvision's resnet34 checkpoint (.pth, either format) or .safetensors, or 'imagenet': torchvision's ImageNet resnet34, " +
        'downloaded once (hash-checked; proxies from HTTPS_PROXY/NO_PROXY; mirror from GPUSEG_WEIGHTS_MIRROR) into ' +
        '$GPUSEG_CACHE (or $GPUSEG_CACHE_DIR), else $XDG_CACHE_HOME/gpuseg, else ~/.cache/gpuseg, as weights/resnet34-b627a593.pth ' +
        '(default: none, a random initialisation)',
    )
    .option('--checkpoint-every <n>', 'steps between checkpoints', positiveInt('--checkpoint-every'), TRAIN_DEFAULTS.checkpointEvery)
    .option('--validate-every <n>', 'steps between false-positive checks on held-out normals (0: never)', nonNegativeInt('--validate-every'), TRAIN_DEFAULTS.validateEvery)
    .option('--max-fpr <x>', "the false-positive pixel rate on held-out normal images that the run's decision threshold keeps (threshold.json)", belowOne('--max-fpr', 'a rate'), TRAIN_DEFAULTS.maxFpr)
    .addOption(adapterOption());
}
