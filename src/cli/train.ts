// `gpuseg train`: trains the ResNet-34 UNet on one category, with a progress bar, a JSONL log and
// checkpoints in the run folder.
import { TRAIN_DEFAULTS, type TrainEvent, type TrainOptions, train } from '../train/trainer.js';
import { type Progress, progress } from './progress.js';
import { tuneBeforeTraining } from './tune.js';

export interface TrainCliOptions extends Omit<TrainOptions, 'data' | 'out'> {
  data: string;
  out: string;
  json?: boolean;
  /** Tune the conv kernels for this batch and size first (what the adapter's file lacks). */
  tune?: boolean;
}

export async function runTrain(o: TrainCliOptions): Promise<void> {
  let bar = null as Progress | null;
  const onEvent = (e: TrainEvent) => {
    if (e.kind === 'start') {
      if (!o.json) process.stderr.write(`training on ${e.device}: ${e.shots} annotated image(s), ${e.steps} steps\n`);
      bar = progress('train', e.steps, { quiet: o.json, fields: ['loss', 'speed'] });
    } else if (e.kind === 'step') {
      bar?.update(e.step, { loss: `loss ${e.loss.toFixed(4)}`, speed: `${e.imagesPerSecond.toFixed(2)} img/s` });
    } else if (e.kind === 'validation' && !o.json && !process.stderr.isTTY) {
      process.stderr.write(`step ${e.step}: false-positive rate on held-out normal images ${(100 * e.falsePositiveRate).toFixed(2)}%\n`);
    }
  };
  if (o.tune && (o.device ?? 'gpu') === 'gpu') await tuneBeforeTraining({ batch: o.batch ?? TRAIN_DEFAULTS.batch, size: o.size ?? TRAIN_DEFAULTS.size, adapter: o.adapter, quiet: o.json });
  try {
    const { tune: _, json: __, ...options } = o;
    const result = await train(options, onEvent);
    bar?.stop();
    if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(`trained ${result.steps} steps in ${result.seconds.toFixed(0)} s, final loss ${result.finalLoss.toFixed(4)}; run folder ${result.dir}\n`);
  } finally {
    bar?.stop();
  }
}
