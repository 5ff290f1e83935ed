// The training flags, shared by `gpuseg train` and `gpuseg experiment` (which passes every one of them
// to each cell), and the parsers of list and choice flags.
import { type Command, Option } from 'commander';
import { VARIANT_NAMES, type Variant, isVariant } from '../experiment/variants.js';
import { TRAIN_DEFAULTS } from '../train/trainer.js';
import { InputError, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './errors.js';

export const adapterOption = () =>
  new Option('--adapter <name>', 'a backend (vulkan, metal, d3d12, ...) or part of an adapter name').env('GPUSEG_ADAPTER');

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
  if (!isVariant(value)) throw new InputError(`--variants: unknown variant '${value}' (known: ${VARIANT_NAMES.join(', ')})`);
  return value;
}

function nbrLayer(value: string): 2 | 3 {
  if (value !== '2' && value !== '3') throw new InputError(`--nbr-layer must be 2 or 3, got '${value}'`);
  return Number(value) as 2 | 3;
}

/** Flags of the data, the schedule and the model, for one run (`--data` is required unless `o.resumable`). */
export function addTrainFlags(c: Command, o: { variantSwitches: boolean; resumable?: boolean }): Command {
  const data = 'category folder: train/good, test/<type>, ground_truth/<type>';
  if (o.resumable) c.option('--data <dir>', data);
  else c.requiredOption('--data <dir>', data);
  c
    .option('--seed <n>', 'training seed (initialisation, batches, augmentation, crop-and-paste)', nonNegativeInt('--seed'), TRAIN_DEFAULTS.seed)
    .option('--size <n>', 'training image size (a multiple of 32)', positiveInt('--size'), TRAIN_DEFAULTS.size)
    .option('--batch <n>', 'images per step (annotated and normal)', positiveInt('--batch'), TRAIN_DEFAULTS.batch)
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
    .addOption(new Option('--paste <mode>', 'where pasted defects go: anywhere (random place, flip, turn) or near (aligned objects)').choices(['anywhere', 'near']).default(TRAIN_DEFAULTS.paste))
    .option('--normal-per-batch <n>', 'normal images per batch (default: half the batch with NBR)', nonNegativeInt('--normal-per-batch'))
    .addOption(deviceOption())
    .option('--encoder-weights <file>', "torchvision's resnet34 checkpoint (.pth, either format) or .safetensors")
    .option('--checkpoint-every <n>', 'steps between checkpoints', positiveInt('--checkpoint-every'), TRAIN_DEFAULTS.checkpointEvery)
    .option('--validate-every <n>', 'steps between false-positive checks on held-out normals (0: never)', nonNegativeInt('--validate-every'), TRAIN_DEFAULTS.validateEvery)
    .addOption(adapterOption());
}
