// `gpuseg train`: trains the ResNet-34 UNet on one category with the method's batches and losses, with a
// progress bar, a JSONL log and checkpoints in the run folder; then evaluates the final weights and
// writes report.html.
import { writeRunReport } from '../report/index.js';
import type { EvaluationResult } from '../evaluate/evaluation.js';
import { kebab } from '../run/options.js';
import { lockForTraining } from '../run/run-lock.js';
import { TRAIN_DEFAULTS, type TrainEvent, type TrainOptions, train } from '../train/trainer.js';
import type { Command } from 'commander';
import { InputError } from './errors.js';
import { type Progress, progress } from './progress.js';
import { watchStopSignals } from './signals.js';
import { tuneBeforeTraining } from './tune.js';

export interface TrainCliOptions extends Omit<TrainOptions, 'data' | 'out' | 'evaluate' | 'resume'> {
  data?: string;
  out?: string;
  /** A run folder to continue. */
  resume?: string;
  /** false with --no-eval. */
  eval?: boolean;
  json?: boolean;
  /** Tune the conv kernels for this batch and size first (what the adapter's file lacks). */
  tune?: boolean;
}

const fixed = (v: number | null, digits = 4) => (v === null ? '' : v.toFixed(digits));
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');

/** Warnings already printed: an experiment's cells read the same category, and each says so once. */
const warned = new Set<string>();

/** Progress of one training run on stderr: reading, the steps (with each loss term), evaluation. */
export function trainProgress(quiet: boolean | undefined, label = 'train'): { onEvent: (e: TrainEvent) => void; stop: () => void } {
  let bar = null as Progress | null;
  let downloadedMib = -1;
  const swap = (next: Progress) => {
    bar?.stop();
    bar = next;
  };
  const onEvent = (e: TrainEvent) => {
    if (e.kind === 'checking') {
      if (e.done === 1 || !bar) swap(progress('checking images and masks', e.total, { quiet }));
      bar?.update(e.done);
    } else if (e.kind === 'warning') {
      if (!warned.has(e.message)) process.stderr.write(`gpuseg: warning: ${e.message}\n`);
      warned.add(e.message);
    } else if (e.kind === 'reading') {
      if (e.done === Math.min(e.total, 16) || !bar) swap(progress('reading normal images', e.total, { quiet }));
      bar?.update(e.done);
    } else if (e.kind === 'start') {
      if (!quiet) {
        const l = e.layout;
        process.stderr.write(
          `${label} on ${e.device}: ${e.shots} annotated image(s), ${e.normals} normal image(s); ` +
            `batches of ${l.shots} shot(s) + ${l.pasted} pasted + ${l.normals} normal; ${e.steps} steps\n`,
        );
      }
      swap(progress(label, e.steps, { quiet, fields: ['loss', 'terms', 'speed'] }));
    } else if (e.kind === 'step') {
      const terms = [['seg', e.seg], ['bg', e.bg], ['feat', e.feat], ['w', e.pasteWeight]] as const;
      bar?.update(e.step, {
        loss: `loss ${e.loss.toFixed(4)}`,
        terms: terms.filter(([, v]) => v !== null).map(([n, v]) => `${n} ${fixed(v, n === 'w' ? 2 : 4)}`).join(' '),
        speed: `${e.imagesPerSecond.toFixed(2)} img/s`,
      });
    } else if (e.kind === 'validation' && !quiet && !process.stderr.isTTY) {
      process.stderr.write(`step ${e.step}: false-positive rate on held-out normal images ${(100 * e.falsePositiveRate).toFixed(2)}%\n`);
    } else if (e.kind === 'threshold' && !quiet) {
      bar?.stop();
      process.stderr.write(
        `decision threshold ${e.threshold.toPrecision(4)}: ${(100 * e.fpr).toFixed(3)}% of the pixels of ${e.images} held-out normal image(s) above it (--max-fpr ${e.maxFpr})\n`,
      );
    } else if (e.kind === 'evaluating') {
      if (e.done <= 4 || !bar) swap(progress('evaluating', e.total, { quiet }));
      bar?.update(e.done);
    } else if (e.kind === 'downloading' && e.total !== null) {
      // In whole MiB, each told once (the plain-line bar would repeat its last line per chunk).
      const mib = e.done === e.total ? Math.ceil(e.total / 2 ** 20) : Math.floor(e.done / 2 ** 20);
      if (downloadedMib < 0) swap(progress('downloading ImageNet weights (MiB)', Math.ceil(e.total / 2 ** 20), { quiet }));
      if (mib !== downloadedMib) bar?.update(mib);
      downloadedMib = mib;
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}

function metricsLine(e: EvaluationResult): string {
  const m = e.overall;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
  return `defect IoU ${f(m.iou)}, mIoU ${f(m.miou)}, Dice ${f(m.dice)}, AUROC ${f(m.auroc)}, AP ${f(m.ap)}, F1-max ${f(m.f1Max)}, AUPRO ${f(m.aupro)}`;
}

/**
 * Flags that may go with --resume: how and where to run, not what (the run's config.json says that);
 * and --steps, which extends a run to more steps.
 */
const RESUME_FLAGS = new Set(['resume', 'device', 'adapter', 'json', 'tune', 'steps']);

/** The run's options from the command line: a new run (--data and --out), or --resume RUN alone. */
function trainOptions(o: TrainCliOptions, cmd?: Command): TrainOptions {
  const { tune: _, json: __, eval: evaluate, resume, ...options } = o;
  if (resume !== undefined) {
    const given = cmd ? Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli' && !RESUME_FLAGS.has(k)) : [];
    if (given.length) throw new InputError(`--resume continues with the run's own settings; drop --${kebab(given[0]!)}`);
    const steps = cmd?.getOptionValueSource('steps') === 'cli' ? o.steps : undefined;
    return { data: '', out: resume, resume: true, device: o.device, adapter: o.adapter, steps };
  }
  if (options.data === undefined) throw new InputError("required option '--data <dir>' not specified (or --resume RUN)");
  if (options.out === undefined) throw new InputError("required option '--out <dir>' not specified");
  return { ...options, data: options.data, out: options.out, evaluate: evaluate !== false };
}

/** Said once per process, when training starts from random weights (not 'gpuseg: ', which starts error lines). */
let toldAboutRandomInit = false;
const RANDOM_INIT_NOTICE =
  'note: no --encoder-weights, so the encoder starts from random weights; the paper starts from ImageNet features, ' +
  'and without them it takes more steps and more shots to reach its masks; --encoder-weights imagenet downloads them once (87 MB)';

export async function runTrain(o: TrainCliOptions, cmd?: Command): Promise<void> {
  const options = trainOptions(o, cmd);
  const p = trainProgress(o.json);
  // Held to the end: the report is written into the run folder after training.
  const lock = await lockForTraining(options, (message) => p.onEvent({ kind: 'warning', message }));
  const stop = watchStopSignals(options.out, () => p.stop());
  const onEvent = (e: TrainEvent) => {
    if (e.kind === 'step') stop.step(e.step, e.steps);
    if (e.kind === 'start' && !options.encoderWeights && !options.resume && !toldAboutRandomInit) {
      toldAboutRandomInit = true;
      process.stderr.write(`${RANDOM_INIT_NOTICE}\n`);
    }
    p.onEvent(e);
  };
  try {
    if (o.tune && (o.device ?? 'gpu') === 'gpu') await tuneBeforeTraining({ batch: o.batch ?? TRAIN_DEFAULTS.batch, size: o.size ?? o.tile ?? TRAIN_DEFAULTS.size, adapter: o.adapter, quiet: o.json });
    const result = await train(options, onEvent);
    p.stop();
    const report = await writeRunReport(result.dir);
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ ...result, report })}\n`);
      return;
    }
    process.stdout.write(`trained ${result.steps} steps in ${result.seconds.toFixed(0)} s, final loss ${result.finalLoss.toFixed(4)}; run folder ${result.dir}\n`);
    if (result.evaluation) process.stdout.write(`evaluation (final weights, all pixels pooled, threshold 0.5): ${metricsLine(result.evaluation)}\n`);
    const at = result.evaluation?.runThreshold;
    if (at) process.stdout.write(`at the run's threshold ${at.value.toPrecision(4)} (${at.source}): defect IoU ${f3(at.overall.iou)}, mIoU ${f3(at.overall.miou)}, Dice/F1 ${f3(at.overall.dice)}\n`);
    process.stdout.write(`report: ${report}\n`);
  } finally {
    stop.done();
    p.stop();
    await lock.release();
  }
}
