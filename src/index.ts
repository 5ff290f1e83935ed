// gpuseg's JavaScript API. The CLI is a thin wrapper over these.
export { train, TRAIN_DEFAULTS, type TrainOptions, type TrainEvent, type TrainResult, type LossKind } from './train/trainer.js';
export { loadModel, predict, type LoadedModel, type LoadOptions } from './train/model-io.js';
export { evaluate, type EvaluationResult, type LabelledImage } from './train/inference.js';
export type { PixelMetrics } from './train/metrics.js';
export { synthesize, readCategory, kShotSplit, type Category, type Split } from './data/index.js';
export { Unet, torchParameterCount } from './model/unet.js';
export { exportStateDict, importStateDict } from './model/state.js';
export { loadSafetensors, saveSafetensors } from './model/safetensors.js';
export { loadTorchCheckpoint, loadEncoderWeights } from './model/torch.js';
export { Gpu, type GpuOptions } from './gpu/gpu.js';
export { NoAdapterError } from './gpu/adapter.js';
