// gpuseg's JavaScript API. The CLI is a thin wrapper over these.
import { setHost } from './gpu/host.js';
import { nodeHost } from './gpu/node-host.js';

// A program that imports the API runs in Node: src/gpu/ gets Node's platform (setHost may choose another).
setHost(nodeHost);

export { train, TRAIN_DEFAULTS, type TrainOptions, type TrainEvent, type TrainResult } from './train/trainer.js';
export type { LossKind } from './run/options.js';
export { loadModel, predict, type LoadedModel, type LoadOptions } from './evaluate/model-io.js';
export { evaluate, evaluationItems, writeEvaluation, type EvaluationResult, type LabelledImage, type ImageRecord } from './evaluate/evaluation.js';
export { runExperiment, type ExperimentResult } from './experiment/runner.js';
export type { ExperimentOptions } from './experiment/grid.js';
export { VARIANTS, type Variant } from './experiment/variants.js';
export { writeRunReport, writeExperimentReport } from './report/index.js';
export type { PixelMetrics, ThresholdMetrics } from './evaluate/metrics.js';
export { runThreshold, thresholdAtFpr, type RunThreshold, type ThresholdRecord } from './evaluate/threshold.js';
export { synthesize, readCategory, kShotSplit, type Category, type Split } from './data/index.js';
export { Unet, torchParameterCount } from './model/unet.js';
export { exportStateDict, importStateDict } from './model/state.js';
export { loadSafetensors, saveSafetensors } from './model/safetensors.js';
export { loadTorchCheckpoint, loadEncoderWeights } from './model/torch.js';
export { Gpu, type GpuOptions } from './gpu/gpu.js';
export { setHost } from './gpu/host.js';
export { nodeHost } from './gpu/node-host.js';
export type { Platform } from './gpu/platform.js';
export { NoAdapterError } from './gpu/adapter.js';
