// `gpuseg eval`: the field's pixel metrics on a run's evaluation set, per defect type and overall, from
// the run's final weights; writes RUN/eval.json (and the worst images' probability maps for the report).
import { writeRunReport } from '../report/index.js';
import { type EvaluationResult, type LabelledImage, evaluate, evaluationItems, writeEvaluation } from '../evaluate/evaluation.js';
import { METRIC_COLUMNS, type PixelMetrics } from '../evaluate/metrics.js';
import { inferenceTrouble, loadModel } from '../evaluate/model-io.js';
import { type Tiling, type TilingFlags, tilingOf } from '../evaluate/tiled-predict.js';
import { weightsOf } from '../run/run-folder.js';
import { lockRun } from '../run/run-lock.js';
import { type RunThreshold, runThreshold } from '../evaluate/threshold.js';
import type { CommonOptions } from './predict.js';
import { progress } from './progress.js';

export interface EvalCliOptions extends CommonOptions, TilingFlags {
  /** The category folder, when it moved since training. */
  data?: string;
  /** Instead of the run's threshold.json, for the metrics at the run's threshold. */
  threshold?: number;
}

const NAME_WIDTH = 14;
/** Images per forward pass in eval. */
const EVAL_BATCH = 4;

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3).padStart(7) : '      -';
}

/** The metrics as a plain-text table: one row per defect type, then overall. */
function metricsTable(e: EvaluationResult): string {
  const row = (name: string, m: PixelMetrics) => `${name.padEnd(NAME_WIDTH)}${METRIC_COLUMNS.map(({ key }) => fmt(m[key])).join('')}`;
  const lines = [`${'type'.padEnd(NAME_WIDTH)}${METRIC_COLUMNS.map(({ name }) => name.padStart(7)).join('')}`];
  for (const [t, m] of Object.entries(e.perType)) lines.push(row(t, m));
  lines.push(row('overall', e.overall));
  const m = e.overall;
  lines.push(
    `(${m.images} images ${e.inference?.mode === 'tiles' ? `at their own size${e.inference.scale === 1 ? '' : ` times ${e.inference.scale}`} in ${e.inference.tile}x${e.inference.tile} tiles` : `at ${e.size}x${e.size}`}, ${m.pixels} pixels pooled over the whole evaluation set, ${m.defectPixels} of them defect in ` +
      `${m.regions} regions; IoU, mIoU and Dice at threshold ${e.threshold}; F1-max at probability ${Number.isFinite(m.f1MaxThreshold) ? m.f1MaxThreshold.toPrecision(3) : '-'}; ` +
      `AUPRO up to FPR ${e.proFprLimit}; the run's final weights)`,
  );
  const at = e.runThreshold;
  if (at) {
    const cell = (m: { iou: number; miou: number; dice: number }) => [m.iou, m.miou, m.dice].map(fmt).join('');
    lines.push('', `at the run's threshold ${Number(at.value.toPrecision(4))} (${at.source}):`, `${'type'.padEnd(NAME_WIDTH)}${['IoU', 'mIoU', 'Dice/F1'].map((n) => n.padStart(7)).join('')}`);
    for (const [t, m] of Object.entries(at.perType)) lines.push(`${t.padEnd(NAME_WIDTH)}${cell(m)}`);
    lines.push(`${'overall'.padEnd(NAME_WIDTH)}${cell(at.overall)}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runEval(o: EvalCliOptions): Promise<void> {
  const items = await evaluationItems(o.model, o.data);
  const threshold = await runThreshold(o.model, o.threshold);
  // eval.json, eval/ and the report are written into the run folder: not while a training (or another
  // eval) writes there. Taken before the evaluation, so a busy run is refused at once, not minutes later.
  const lock = await lockRun(o.model, { what: '--model', create: false, onWarning: (m) => process.stderr.write(`gpuseg: warning: ${m}\n`) });
  try {
    const written = await evaluateRun(o, items, threshold);
    await writeRunReport(o.model);
    if (o.json) process.stdout.write(`${JSON.stringify(written)}\n`);
    else process.stdout.write(metricsTable(written));
  } finally {
    await lock.release();
  }
}

/** Evaluates the run's final weights on `items` and writes eval.json and eval/. */
async function evaluateRun(o: EvalCliOptions, items: LabelledImage[], threshold: RunThreshold): Promise<EvaluationResult> {
  const loaded = await loadModel(o.model, { device: o.device, adapter: o.adapter });
  const weights = await weightsOf(o.model);
  if (weights?.unfinished) process.stderr.write(`gpuseg: warning: '${o.model}': ${weights.unfinished}\n`);
  const bar = progress('eval', items.length, { quiet: o.json });
  let tiling: Tiling | null = null;
  try {
    tiling = tilingOf(o.model, loaded.config, o);
    const result = await evaluate(loaded.model, loaded.device.backend, items, loaded.size, (done) => bar.update(done), EVAL_BATCH, threshold, tiling, loaded.resize);
    bar.stop();
    return await writeEvaluation(o.model, { ...result, step: weights?.step });
  } catch (err) {
    throw inferenceTrouble(err, 'evaluating', loaded, EVAL_BATCH, tiling);
  } finally {
    bar.stop();
    loaded.close();
  }
}
