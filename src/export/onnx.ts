// `gpuseg export RUN --onnx FILE`: a run's trained UNet as a standard ONNX graph (ONNX Runtime,
// OpenVINO, TensorRT), in eval mode: batch norm uses the running statistics and is folded into the
// convolution before it (or kept as BatchNormalization nodes, for comparison).
//
// Here: the command (its checks, the run folder, the file); the graph itself, its input and outputs, is
// in onnx-unet.ts.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type NamedTensor, loadSafetensors } from '../model/safetensors.js';
import { finishedRun } from '../run/run-folder.js';
import { type RunThreshold, runThreshold } from '../evaluate/threshold.js';
import { InputError } from '../util/errors.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { encodeOnnxModel } from './onnx-proto.js';
import { BATCH_PARAM, type BatchNormMode, INPUT_NAME, MAX_OPSET, MIN_OPSET, NORMALIZATION, OUTPUT_LOGIT, OUTPUT_PROBABILITY, buildUnetOnnx } from './onnx-unet.js';

/** The UNet halves its input five times. */
const SIZE_MULTIPLE = 32;

export interface OnnxExportOptions {
  size?: number;
  dynamicBatch: boolean;
  opset: number;
  /** 'fold' (default): into the convolutions' weights and biases; 'nodes': BatchNormalization nodes. */
  batchNorm?: BatchNormMode;
}

export interface OnnxExportSummary {
  file: string;
  bytes: number;
  size: number;
  batch: number | string;
  opset: number;
  irVersion: number;
  input: string;
  outputs: string[];
  normalization: string;
  nodes: number;
  batchNormFolded: boolean;
  /** The run's decision threshold, in the file as metadata_props 'gpuseg.threshold' (and its source). */
  threshold: RunThreshold;
}

/** Writes the run's UNet to `file` (atomically) and says what was written. */
export async function exportOnnx(run: string, file: string, o: OnnxExportOptions): Promise<OnnxExportSummary> {
  checkOpset(o.opset);
  if (o.size !== undefined) checkSize(o.size);
  const { config, tensors, source } = await readRun(run);
  const size = o.size ?? config.size;
  await checkOutputFile(file);
  const batchNorm = o.batchNorm ?? 'fold';
  const threshold = await runThreshold(run);
  const { model, nodes } = buildUnetOnnx(tensors, source, { size, dynamicBatch: o.dynamicBatch, opset: o.opset, batchNorm }, runMetadata(config, threshold));
  const bytes = encodeOnnxModel(model);
  await writeFileAtomic(file, bytes);
  return {
    file,
    bytes: bytes.byteLength,
    size,
    batch: o.dynamicBatch ? BATCH_PARAM : 1,
    opset: o.opset,
    irVersion: model.ir_version,
    input: INPUT_NAME,
    outputs: [OUTPUT_PROBABILITY, OUTPUT_LOGIT],
    normalization: NORMALIZATION,
    nodes,
    batchNormFolded: batchNorm === 'fold',
    threshold,
  };
}

function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new InputError(`--opset must be from ${MIN_OPSET} to ${MAX_OPSET} (the oldest with the operator forms the graph uses, and the newest this exporter knows), got ${opset}`);
  }
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < SIZE_MULTIPLE || size % SIZE_MULTIPLE !== 0) {
    throw new InputError(`--size must be a multiple of ${SIZE_MULTIPLE} (the UNet halves it five times), got ${size}`);
  }
}

interface RunContents {
  config: Record<string, unknown> & { size: number };
  tensors: Map<string, NamedTensor>;
  /** The weights file, for error messages. */
  source: string;
}

/** config.json and last.safetensors of a run folder, checked, with the same one-line errors predict gives. */
async function readRun(run: string): Promise<RunContents> {
  const { config, weights: source } = await finishedRun(run);
  return { config, tensors: await loadSafetensors(source), source };
}

/** Refuses a folder as --onnx and creates the file's missing folders, before any work. */
async function checkOutputFile(file: string): Promise<void> {
  if (await stat(file).then((s) => s.isDirectory(), () => false)) throw new InputError(`--onnx '${file}' is a folder; give a file name`);
  await makeFolder(dirname(file), '--onnx');
}

/**
 * What the file says about where it came from (not the run's path: a model file travels), and the
 * decision threshold a mask of its `probability` output uses (as the shortest decimal that reads back to
 * the same double).
 */
function runMetadata(config: Record<string, unknown>, threshold: RunThreshold): Record<string, string> {
  const out: Record<string, string> = { input_normalization: NORMALIZATION, 'gpuseg.threshold': String(threshold.value), 'gpuseg.threshold_source': threshold.source };
  for (const key of ['category', 'step', 'shots', 'seed']) if (config[key] !== undefined) out[key] = String(config[key]);
  // A run trained on tiles: large images go through the model as examples/onnx-tiled.mjs runs them.
  if (typeof config.tile === 'number') {
    out['gpuseg.tile'] = String(config.tile);
    out['gpuseg.scale'] = String(typeof config.scale === 'number' ? config.scale : 1);
  }
  return out;
}
