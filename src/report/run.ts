// The report of one training run: RUN/report.html from config.json, log.jsonl and eval.json.
import { basename, join, resolve } from 'node:path';
import { CONFIG_FILE } from '../run/checkpoint.js';
import { EVAL_FILE, LOG_FILE, REPORT_FILE } from '../run/run-folder.js';
import { writeFileAtomic } from '../util/files.js';
import { averagingNote, LOSS_TERMS, LOSS_TERMS_NOTE, pastePoints, termPoints, validationPoints } from './curves.js';
import { readJson, readOptionalJson, readRunLog, type EvalFile, type RunConfig, type RunLog } from './formats.js';
import { chartFigure, escapeHtml, metricTable, page, section, settingsList } from './html.js';
import { isNumber } from './numbers.js';
import { inferenceWords, sampleGrid } from './samples.js';
import { lineChart, PALETTE } from './svg.js';

export { REPORT_FILE };

/** The experiment's variant names, from the switches that define them. */
export function variantName(config: RunConfig): string {
  if (typeof config.variant === 'string') return config.variant;
  const { nbr = false, cropPaste = false, weighting = false } = config;
  if (!cropPaste) return nbr ? 'nbr' : 'baseline';
  if (!nbr) return weighting ? 'cpw' : 'cp';
  return weighting ? 'full' : 'nbr+cp';
}

function onOff(value: unknown): string {
  return value === true ? 'on' : value === false ? 'off' : '—';
}

function text(value: unknown): string {
  return value === undefined || value === null ? '—' : String(value);
}

function settings(config: RunConfig): [string, string][] {
  const steps = isNumber(config.step) && config.step !== config.steps ? `${config.step} of ${text(config.steps)}` : text(config.steps);
  const slots = config.pasteSlots === 'extra' ? ', on top of the shots' : '';
  const paste = config.cropPaste ? `on (${text(config.paste)}${slots})` : onOff(config.cropPaste);
  return [
    ['category', text(config.category)],
    ['shots', text(config.shots)],
    ['variant', variantName(config)],
    ['steps', steps],
    ['size', isNumber(config.size) ? `${config.size} x ${config.size}` : '—'],
    ['batch', text(config.batch)],
    ['learning rate', text(config.lr)],
    ['device', text(config.device)],
    ['split seed / seed', `${text(config.splitSeed)} / ${text(config.seed)}`],
    ['NBR', config.nbr ? `on (layer ${text(config.nbrLayer)})` : onOff(config.nbr)],
    ['λ_bg / λ_feat', `${text(config.lambdaBg)} / ${text(config.lambdaFeat)}`],
    ['crop-and-paste', paste],
    ['paste weighting', onOff(config.weighting)],
    ['normal images per batch', text(config.normalPerBatch)],
  ];
}

/** The loss chart of one run: a line per logged term. */
function lossChart(log: RunLog): string {
  const series = LOSS_TERMS.map((term, i) => ({ name: term.name, color: PALETTE[i]!, points: termPoints(log, term.key) }));
  const svg = lineChart({ title: 'Training loss per term', xLabel: 'step', yLabel: 'loss', series, yScale: 'auto' });
  const note = [LOSS_TERMS_NOTE, averagingNote(log.steps.length)].filter(Boolean).join(' ');
  return chartFigure('Loss per term', svg, 'No step lines in log.jsonl yet.') + `<p class="note">${escapeHtml(note)}</p>`;
}

function pasteAndValidation(log: RunLog): string {
  const paste = pastePoints(log);
  const pasteSvg = lineChart({
    title: 'Mean paste weight per step',
    xLabel: 'step',
    yLabel: 'mean paste weight',
    series: [{ name: 'paste weight', color: PALETTE[1]!, points: paste }],
    yInclude: 0,
  });
  const validation = validationPoints(log);
  const validationSvg = lineChart({
    title: 'Validation false-positive rate',
    xLabel: 'step',
    yLabel: 'false-positive rate',
    series: [{ name: 'held-out normal images', color: PALETTE[2]!, points: validation, markers: true }],
    yInclude: 0,
  });
  return (
    '<div class="charts">' +
    chartFigure('Paste weight (mean over the pasted samples of each step)', pasteSvg, 'No pasted samples were logged (crop-and-paste off).') +
    chartFigure('False-positive rate on held-out normal images', validationSvg, 'No validation lines in log.jsonl.') +
    '</div>'
  );
}

/** What the metric table measures, in words, with the file's own threshold and pooling. */
export function metricsNote(evaluation: EvalFile, weights: string): string {
  return (
    `<p class="note">Metrics of ${escapeHtml(weights)} on the evaluation set, measured ${escapeHtml(inferenceWords(evaluation))}, ${escapeHtml(evaluation.pooling)}. ` +
    `IoU, mIoU and Dice threshold the probability at ${evaluation.threshold}; AUROC, AP, F1-max and AUPRO are ` +
    `threshold-free (F1-max with the threshold that reaches it; AUPRO up to a false-positive rate of ` +
    `${evaluation.proFprLimit}, normalised). — means undefined (e.g. no defect pixels).</p>`
  );
}

/** The metric table with its note, or a note that the run has no evaluation. */
function evaluationSection(evaluation: EvalFile | null, step: unknown): string {
  if (evaluation === null) {
    return section(
      'Metrics',
      '<p class="warning">No eval.json in this run folder: the run has not been evaluated yet, so only its training curves are shown.</p>',
    );
  }
  const weights = isNumber(step) ? `the run's final weights (step ${step})` : "the run's final weights";
  return section('Metrics', metricsNote(evaluation, weights) + metricTable(evaluation.perType, evaluation.overall));
}

/** A note on lines of log.jsonl that were skipped, or ''. */
function skippedNote(log: RunLog): string {
  if (log.skipped === 0) return '';
  return `<p class="note">${log.skipped} line(s) of log.jsonl did not parse and were skipped (a killed run can leave a partial last line).</p>`;
}

export async function writeRunReport(runDir: string): Promise<string> {
  const dir = resolve(runDir);
  const config = await readJson<RunConfig>(join(dir, CONFIG_FILE), 'run config');
  const log = await readRunLog(join(dir, LOG_FILE));
  const evaluation = await readOptionalJson<EvalFile>(join(dir, EVAL_FILE), 'evaluation');
  const title = `Training run ${basename(dir)}: ${text(config.category)}, ${text(config.shots)}-shot, ${variantName(config)}`;
  const body = [
    `<header><h1>${escapeHtml(title)}</h1><p class="subtitle">${escapeHtml(dir)}</p>${settingsList(settings(config))}</header>`,
    section('Training loss', lossChart(log) + skippedNote(log)),
    section('Paste weight and validation', pasteAndValidation(log)),
    evaluationSection(evaluation, config.step),
    evaluation === null ? '' : section('Evaluation images, worst first', await sampleGrid(dir, evaluation)),
  ].join('\n');
  const path = join(dir, REPORT_FILE);
  await writeFileAtomic(path, new TextEncoder().encode(page(title, body)));
  return path;
}
