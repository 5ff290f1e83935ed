#!/usr/bin/env node
// gpuseg: the command line. Each command is a thin wrapper over the library.
import { Command, Option } from 'commander';
import { runBenchKernels, runBenchMatmul, runBenchTrain } from './bench.js';
import { runSynth, synthCategoriesHelp } from './data.js';
import { belowOne, nonNegativeInt, positiveInt, reportAndExit } from './errors.js';
import { EXIT_BAD_INPUT } from '../util/errors.js';
import { runExperimentCli } from './experiment.js';
import { adapterOption, addTrainFlags, batchOption, deviceOption, inputSizeOption, listOf, variantName } from './flags.js';
import { runReport } from './report.js';
import { VARIANT_NAMES } from '../experiment/variants.js';
import { runInfo } from './info.js';
import { runEval } from './eval.js';
import { runExport, runServe } from './export.js';
import { runLabel } from './label.js';
import { runPredict } from './predict.js';
import { scaleOption, tileBatchOption, tileOption } from './tile-flags.js';
import { runTrain } from './train.js';
import { runTune } from './tune.js';
import { packageVersion } from './version.js';
import { runWorkerCli } from './worker.js';
import { setHost } from '../gpu/host.js';
import { nodeHost } from '../gpu/node-host.js';

// Node's platform for src/gpu/: Dawn, shaders/ from the package, the environment, the file system.
setHost(nodeHost);

const program = new Command()
  .name('gpuseg')
  .description('Few-shot defect segmentation trained on the GPU through WebGPU (Dawn)')
  .version(packageVersion(), '-V, --version', 'print the version of gpuseg')
  .showHelpAfterError('(gpuseg COMMAND --help lists the flags)')
  .exitOverride();

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
  .addHelpText('after', synthCategoriesHelp())
  .action((out, opts) => runSynth(out, opts));

addTrainFlags(
  program
    .command('train')
    .description('train the ResNet-34 UNet on one category folder (MVTec AD layout): k annotated shots per defect type plus the normal images, with the NBR loss and weighted crop-and-paste (METHOD.md); then evaluate and write report.html')
    .option('--out <dir>', 'run folder: checkpoints, config, split, log, evaluation, report (required, unless --resume)')
    .option('--resume <run>', "continue the run in this folder from its last checkpoint, with its own settings (exactly: the same result as an uninterrupted run); with --steps N, more than its steps, extend a run to N")
    .option('--shots <k>', 'annotated images per defect type', positiveInt('--shots'), 1)
    .option('--split-seed <n>', 'seed of the choice of shots', nonNegativeInt('--split-seed'), 0),
  { variantSwitches: true, resumable: true },
)
  .option('--no-eval', 'skip the evaluation of the final weights (and the metrics of the report)')
  .option('--overwrite', 'replace the run already in --out (without it, a folder holding a run is refused)')
  .option('--tune', 'first measure the conv kernels for this --batch and --size on this adapter (what its tuning file lacks; see `gpuseg tune`)')
  .option('--json', 'print the result as JSON (no progress bar)')
  .addHelpText('after', '\nSwitches (--no-*, --overwrite, --tune, --json) are off unless given: by default the full method (NBR, crop-and-paste,\nweighting) trains, then evaluates. --resume RUN takes no other flag but --steps, --device, --adapter, --tune and --json.')
  .action((opts, cmd: Command) => runTrain(opts, cmd));

addTrainFlags(
  program
    .command('experiment')
    .description('train and evaluate every variant x shot count x split seed on one category, resumably; writes results.json, results.md and report.html')
    .requiredOption('--out <dir>', 'experiment folder (one run folder per cell under cells/)')
    .addOption(new Option('--shots <list>', 'shot counts').argParser(listOf('--shots', positiveInt('--shots'))).default([1, 5], '1,5'))
    .addOption(new Option('--variants <list>', 'variants').argParser(listOf('--variants', variantName)).default([...VARIANT_NAMES], VARIANT_NAMES.join(',')))
    .addOption(new Option('--split-seeds <list>', 'split seeds').argParser(listOf('--split-seeds', nonNegativeInt('--split-seeds'))).default([0, 1, 2], '0,1,2')),
  { variantSwitches: false },
)
  .option('--queue <url>', 'redis://HOST:PORT/DB: enqueue the cells for `gpuseg worker`s (on any machine sharing --data and --out at the same paths) and wait for them')
  .option('--cell <n>', "run only this cell (0-based, in the grid's order: shots, variants, split seeds), e.g. $JOB_COMPLETION_INDEX of a Kubernetes Indexed Job", nonNegativeInt('--cell'))
  .option('--collect', 'write results.json, results.md and report.html from the cells finished so far (after --cell runs); run nothing')
  .option('--json', 'print the results as JSON (no progress bar)')
  .action((opts) => runExperimentCli(opts));

program
  .command('worker')
  .description('run cells of experiments enqueued with `gpuseg experiment --queue URL`, one at a time, until SIGINT or SIGTERM (which put the current cell back in the queue)')
  .requiredOption('--queue <url>', 'redis://HOST:PORT/DB (or rediss://), the one the experiment was enqueued on')
  .option('--concurrency <n>', 'cells at once, each in its own process with its own device (one worker per GPU is the default)', positiveInt('--concurrency'), 1)
  .addOption(adapterOption())
  .action((opts) => runWorkerCli(opts));

program
  .command('report')
  .description("write RUN/report.html (loss curves, paste weights, metrics, worst evaluation images) from a run folder, or an experiment folder's report")
  .argument('<dir>', 'a run folder or an experiment folder')
  .option('--json', 'print the path as JSON')
  .action((dir, opts) => runReport(dir, opts));

program
  .command('predict')
  .description('probability map, mask and overlay PNG for each image; OK/NG verdicts in verdicts.csv and regions.csv')
  .argument('<images...>', 'image files or folders of images')
  .requiredOption('--model <run>', 'a run folder (or a .safetensors file of the UNet)')
  .requiredOption('--out <dir>', 'output folder')
  .option('--threshold <p>', "masks at this probability instead of the run's threshold.json (0.5 without one)", belowOne('--threshold', 'a probability'))
  .option('--min-area <px>', "an image is NG when a region of its mask (8-connected) has at least this many pixels (default: the run's threshold.json minArea, one more than the largest region of its held-out normal images; else 1)", positiveInt('--min-area'))
  .addOption(deviceOption())
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .addOption(tileOption())
  .addOption(scaleOption())
  .addOption(tileBatchOption())
  .action((images, opts) => runPredict(images, opts));

program
  .command('eval')
  .description("pixel metrics (IoU, mIoU, Dice, AUROC, AP, F1-max, AUPRO) on a run's evaluation set, per defect type and overall; writes RUN/eval.json")
  .requiredOption('--model <run>', 'a run folder (with split.json)')
  .option('--data <dir>', 'the category folder, when it has moved since training (the split is applied to this copy)')
  .option('--threshold <p>', "IoU, mIoU and Dice also at this probability instead of the run's threshold.json (besides 0.5)", belowOne('--threshold', 'a probability'))
  .addOption(deviceOption())
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .addOption(tileOption())
  .addOption(scaleOption())
  .addOption(tileBatchOption())
  .action((opts) => runEval(opts));

program
  .command('export')
  .description('the trained UNet as an ONNX graph (--onnx) and/or a static web page running gpuseg\'s own WGSL kernels (--web)')
  .argument('<run>', 'a run folder')
  .option('--onnx <file>', 'write an ONNX model here')
  .option('--web <dir>', 'write a static page (index.html, one bundled script, the weights) into this folder')
  .option('--size <n>', "input size of the exported graph (a multiple of 32; default: the run's size)", positiveInt('--size'))
  .option('--dynamic-batch', 'ONNX: a symbolic batch dimension instead of 1')
  .option('--opset <n>', 'ONNX opset version', positiveInt('--opset'), 17)
  .option('--json', 'print what was written as JSON')
  .action((run, opts) => runExport(run, opts));

program
  .command('serve')
  .description('serve a folder written by `gpuseg export --web` on localhost (127.0.0.1 only)')
  .argument('<dir>', 'the folder')
  .option('--port <n>', 'port (0: any free one)', nonNegativeInt('--port'), 8080)
  .option('--json', 'print the URL as JSON')
  .action((dir, opts) => runServe(dir, opts));

program
  .command('label')
  .description('a page on localhost (127.0.0.1 only) for painting defect masks of a category folder: writes ground_truth/<type>/<name>_mask.png')
  .argument('<category>', 'the category folder (MVTec AD layout: test/<type>/ holds the defect images)')
  .option('--port <n>', 'port (0: any free one)', nonNegativeInt('--port'), 8081)
  .option('--json', 'print the URL as JSON')
  .action((dir, opts) => runLabel(dir, opts));

program
  .command('tune')
  .description("measure the conv kernels' variants on every layer of the UNet at one batch and size on this adapter; train, predict, eval and bench use the fastest (GPUSEG_TUNING=off: not)")
  .addOption(batchOption(8, 'batch size (tune the one you train with)'))
  .addOption(inputSizeOption(256))
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
  .addOption(batchOption(2))
  .addOption(inputSizeOption(128))
  .option('--steps <n>', 'timed steps', positiveInt('--steps'), 5)
  .option('--warmup <n>', 'untimed steps first', nonNegativeInt('--warmup'), 2)
  .addOption(new Option('--method <m>', 'baseline (shots only) or full (normal images, crop-and-paste, NBR, paste weights)').choices(['baseline', 'full']).default('baseline'))
  .option('--profile', 'GPU time per kernel from timestamp queries, sorted')
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((opts) => runBenchTrain(opts));
bench
  .command('kernels')
  .description('every kernel on every distinct layer shape of the ResNet-34 UNet: median time, GFLOP/s or GB/s')
  .addOption(batchOption(1))
  .addOption(inputSizeOption(64))
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
    process.exit(code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : EXIT_BAD_INPUT);
  }
  reportAndExit(err);
}
