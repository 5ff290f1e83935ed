// model.json, the small file beside the page's weights: written by `gpuseg export --web`
// (src/export/web.ts), read by the page.

/** The UNet halves its input five times. */
const SIZE_MULTIPLE = 32;
/** Bumped when model.json's fields change meaning. */
export const MODEL_INFO_FORMAT = 1;
export const MODEL_INFO_FILE = 'model.json';
export const MODEL_WEIGHTS_FILE = 'model.safetensors';

/** model.json: what the page needs besides the weights. */
export interface ModelInfo {
  format: typeof MODEL_INFO_FORMAT;
  /** The square input size the page resizes images to (a multiple of 32). */
  size: number;
  /** The threshold slider's starting value: a pixel is defect above it. */
  threshold: number;
  /** The run folder's name, shown on the page. */
  run: string;
}

/** The model.json text checked field by field: a hand-edited file says what is wrong with it. */
export function parseModelInfo(json: unknown): ModelInfo {
  const o = (typeof json === 'object' && json !== null ? json : {}) as Partial<Record<keyof ModelInfo, unknown>>;
  if (o.format !== MODEL_INFO_FORMAT) throw new Error(`${MODEL_INFO_FILE}: format ${String(o.format)}, this page reads ${MODEL_INFO_FORMAT}`);
  const { size, threshold, run } = o;
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0 || size % SIZE_MULTIPLE !== 0) {
    throw new Error(`${MODEL_INFO_FILE}: size ${String(size)} is not a positive multiple of ${SIZE_MULTIPLE}`);
  }
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw new Error(`${MODEL_INFO_FILE}: threshold ${String(threshold)} is not in [0, 1]`);
  }
  return { format: MODEL_INFO_FORMAT, size, threshold, run: typeof run === 'string' ? run : '' };
}
