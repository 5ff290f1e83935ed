#!/usr/bin/env node
// gpuseg: the command line. Each command is a thin wrapper over the library.
import { Command, Option } from 'commander';
import { runBenchMatmul } from './bench.js';
import { positiveInt, reportAndExit } from './errors.js';
import { runInfo } from './info.js';

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

const bench = program.command('bench').description('microbenchmarks (JSON with --json)');
bench
  .command('matmul')
  .description('GFLOP/s of the register-tiled matmul on a square problem')
  .option('--size <n>', 'matrix size', positiveInt('--size'), 512)
  .option('--iterations <n>', 'timed runs', positiveInt('--iterations'))
  .option('--json', 'print JSON')
  .addOption(adapterOption())
  .action((opts) => runBenchMatmul(opts));

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
