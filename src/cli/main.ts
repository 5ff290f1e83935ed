#!/usr/bin/env node
// gpuseg: the command line. Each command is a thin wrapper over the library.
import { Command, Option } from 'commander';
import { runBenchKernels, runBenchMatmul, runBenchTrain } from './bench.js';
import { runSynth } from './data.js';
import { nonNegativeInt, positiveInt, positiveNumber, reportAndExit } from './errors.js';
import { runInfo } from './info.js';
import { runEval, runPredict } from './predict.js';
import { runTrain } from './train.js';
import { runTune } from './tune.js';

const program = new Command()
  .name('gpuseg')
  .description('Few-shot defect segmentation trained on the GPU through WebGPU (Dawn)')
  .showHelpAfterError()
  .exitOverride();

const adapterOption = () =>
  new Option('--adapter <name>', 'a backend (vulkan, metal, d3d12, ...) or part of an adapter name').env('GPUSEG_ADAPTER');

program
  .command('info')
  .description('the adapter in use: description, backend, limits and features')
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((opts) => runInfo(opts));

program
  .command('synth')
  .description('write a synthetic data set in the MVTec AD layout (several categories, exact masks)')
  .argument('<out>', 'output folder (one sub-folder per category)')
  .option('--size <n>', 'image size', positiveInt('--size'), 256)
  .option('--seed <n>', 'random seed', nonNegativeInt('--seed'), 0)
  .option('--categories <list>', 'comma-separated category names (default: all)')
  .option('--train-good <n>', 'normal training images per category', positiveInt('--train-good'))
  .option('--test-good <n>', 'normal test images per category', nonNegativeInt('--test-good'))
  .option('--per-type <n>', 'test images per defect type', positiveInt('--per-type'))
  .option('--json', 'print a JSON summary')
  .action((out, opts) => runSynth(out, opts));

const deviceOption = () => new Option('--device <kind>', 'gpu (WebGPU, any adapter) or cpu (the float64 reference)').choices(['gpu', 'cpu']).default('gpu');

program
  .command('train')
  .description('train the ResNet-34 UNet on one category folder (MVTec AD layout) from k annotated shots')
  .requiredOption('--data <dir>', 'category folder: train/good, test/<type>, ground_truth/<type>')
  .requiredOption('--out <dir>', 'run folder: checkpoints, config, split, log')
  .option('--shots <k>', 'annotated images per defect type', positiveInt('--shots'), 1)
  .option('--split-seed <n>', 'seed of the choice of shots', nonNegativeInt('--split-seed'), 0)
  .option('--seed <n>', 'training seed (initialisation, batches, augmentation)', nonNegativeInt('--seed'), 0)
  .option('--size <n>', 'training image size (a multiple of 32)', positiveInt('--size'), 256)
  .option('--batch <n>', 'images per step', positiveInt('--batch'), 8)
  .option('--steps <n>', 'optimizer steps', positiveInt('--steps'), 2000)
  .option('--lr <x>', 'peak learning rate (warm-up, then cosine decay)', positiveNumber('--lr'), 1e-4)
  .addOption(new Option('--loss <kind>', 'segmentation loss').choices(['bce', 'bce+dice']).default('bce'))
  .addOption(deviceOption())
  .option('--encoder-weights <file>', "torchvision's resnet34 checkpoint (.pth, either format) or .safetensors")
  .option('--checkpoint-every <n>', 'steps between checkpoints', positiveInt('--checkpoint-every'), 200)
  .option('--validate-every <n>', 'steps between false-positive checks on held-out normals (0: never)', nonNegativeInt('--validate-every'), 100)
  .option('--tune', 'first measure the conv kernels for this --batch and --size on this adapter (what its tuning file lacks; see `gpuseg tune`)')
  .option('--json', 'print the result as JSON (no progress bar)')
  .addOption(adapterOption())
  .action((opts) => runTrain(opts));

program
  .command('predict')
  .description('probability map, mask and overlay PNG for each image')
  .argument('<images...>', 'image files or folders of images')
  .requiredOption('--model <run>', 'a run folder (or a .safetensors file of the UNet)')
  .requiredOption('--out <dir>', 'output folder')
  .addOption(deviceOption())
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((images, opts) => runPredict(images, opts));

program
  .command('eval')
  .description("pixel metrics (IoU, mIoU, Dice, AUROC, AP) on a run's evaluation set, per defect type")
  .requiredOption('--model <run>', 'a run folder (with split.json)')
  .addOption(deviceOption())
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((opts) => runEval(opts));

program
  .command('tune')
  .description("measure the conv kernels' variants on every layer of the UNet at one batch and size on this adapter; train, predict, eval and bench use the fastest (GPUSEG_TUNING=off: not)")
  .option('--batch <n>', 'batch size (tune the one you train with)', positiveInt('--batch'), 8)
  .option('--size <n>', 'input size (a multiple of 32)', positiveInt('--size'), 256)
  .option('--kernels <list>', 'comma-separated: conv2d, conv2dInputGrad, conv2dWeightGrad (default: all)')
  .option('--layers <n>', 'only the first n distinct layers', positiveInt('--layers'))
  .option('--inference', 'also the forward conv at the batch predict and eval use (4)')
  .option('--json', 'one JSON line per layer and kernel, then a summary line')
  .addOption(adapterOption())
  .action((opts) => runTune(opts));

const bench = program.command('bench').description('microbenchmarks (JSON with --json)');
bench
  .command('matmul')
  .description('GFLOP/s of the register-tiled matmul on a square problem')
  .option('--size <n>', 'matrix size', positiveInt('--size'), 512)
  .option('--iterations <n>', 'timed runs', positiveInt('--iterations'))
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((opts) => runBenchMatmul(opts));
bench
  .command('train')
  .description('images/s of a full training step and of inference on the ResNet-34 UNet; pool peak; --profile: time per kernel')
  .option('--batch <n>', 'batch size', positiveInt('--batch'), 2)
  .option('--size <n>', 'input size (a multiple of 32)', positiveInt('--size'), 128)
  .option('--steps <n>', 'timed steps', positiveInt('--steps'), 5)
  .option('--warmup <n>', 'untimed steps first', nonNegativeInt('--warmup'), 2)
  .option('--profile', 'GPU time per kernel from timestamp queries, sorted')
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((opts) => runBenchTrain(opts));
bench
  .command('kernels')
  .description('every kernel on every distinct layer shape of the ResNet-34 UNet: median time, GFLOP/s or GB/s')
  .option('--batch <n>', 'batch size', positiveInt('--batch'), 1)
  .option('--size <n>', 'input size (a multiple of 32)', positiveInt('--size'), 64)
  .option('--only <op>', 'only ops whose name starts with this (conv2d, batchNorm, ...)')
  .option('--iterations <n>', 'minimum timed runs per op and shape', positiveInt('--iterations'))
  .option('--json', 'one JSON line per op and shape')
  .addOption(adapterOption())
  .action((opts) => runBenchKernels(opts));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // commander has already printed its own message for usage errors.
  const code = (err as { code?: string; exitCode?: number }).code;
  if (code?.startsWith('commander.')) {
    const exitCode = (err as { exitCode?: number }).exitCode ?? 1;
    process.exit(code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : exitCode);
  }
  reportAndExit(err);
}
