// Self-contained HTML reports (inline SVG, data-URI PNGs, inline CSS, no script) of a training run and
// of an experiment. Reads the files the trainer and the experiment runner write; nothing below imports it.
export { writeRunReport, REPORT_FILE } from './run.js';
export { writeExperimentReport, EXPERIMENT_SAMPLES_PER_CELL } from './experiment.js';
