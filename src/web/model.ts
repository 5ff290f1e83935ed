// The model in the page: the same device layer, kernels, UNet, safetensors reader and inference code as
// `gpuseg predict`, loaded from the two files `gpuseg export --web` writes beside the page.
import { WebGpuBackend } from '../backend/webgpu/index.js';
import { type BufferRef, Gpu } from '../gpu/gpu.js';
import { materialize } from '../model/module.js';
import { readSafetensors } from '../model/safetensors-format.js';
import { importStateDict } from '../model/state.js';
import { Unet } from '../model/unet.js';
import { predictProbabilities } from '../evaluate/inference.js';
import { rng } from '../util/random.js';
import { MODEL_WEIGHTS_FILE, type ModelInfo } from './model-info.js';

export interface PageModel {
  model: Unet<BufferRef>;
  backend: WebGpuBackend;
  info: ModelInfo;
  /** The adapter, in words ("google swiftshader", a GPU's name). */
  adapter: string;
}

/**
 * The page's WebGPU device. Opened before the weights are fetched, so that a browser without WebGPU says
 * so at once (NoWebGpuError, src/web/host.ts) instead of after a 100 MB download.
 */
export function openPageGpu(): Promise<Gpu> {
  return Gpu.open();
}

/** Loads the weights into a UNet on the device, in eval mode, as src/train/model-io.ts does. */
export function loadPageModel(gpu: Gpu, info: ModelInfo, weights: Uint8Array): PageModel {
  const tensors = readSafetensors(weights, MODEL_WEIGHTS_FILE);
  const backend = new WebGpuBackend(gpu);
  const model = new Unet<BufferRef>();
  // The same steps as loadModel: parameters on the device first (their initial values are overwritten).
  materialize(model, backend, rng(0));
  importStateDict(model, tensors, { source: MODEL_WEIGHTS_FILE });
  model.setTraining(false);
  return { model, backend, info, adapter: adapterName(gpu) };
}

/** Browsers often leave the description empty (privacy): vendor and architecture say enough. */
function adapterName(gpu: Gpu): string {
  const { vendor, architecture, device, description } = gpu.summary;
  const words = [vendor, architecture, device, description].filter((w, i, all) => w && all.indexOf(w) === i);
  return words.join(' ') || 'an unnamed adapter';
}

/** The probability map (size x size, row-major) of one RGB image (HWC floats in [0, 1], size x size). */
export async function predictOne(m: PageModel, rgb: Float32Array): Promise<Float32Array> {
  const [probability] = await predictProbabilities(m.model, m.backend, [rgb], m.info.size, 1);
  return probability!;
}
