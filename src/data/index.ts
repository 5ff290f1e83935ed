// The data layer: image IO, the MVTec AD layout, k-shot splits, flips and rotations, synthetic data.
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  MASK_THRESHOLD,
  checkImage,
  checkMask,
  imageSize,
  normalizeImageNet,
  bytesToRgb,
  readImage,
  readImageBytes,
  readMask,
  writePng,
} from './image.js';
export { verifyCategory, type CategoryCheck } from './verify.js';
export { GOOD, listCategories, readCategory, type Category, type DefectSample } from './mvtec.js';
export { IMAGE_EXTENSIONS, IMAGE_FORMATS, ignoredWarning, isImageName, listImageFolder, nameKind, unreadImage, type ImageFolder, type NameKind } from './formats.js';
export { DEFAULT_RESIZE, RESIZE_POLICIES, padBox, type ResizePolicy } from './decode.js';
export {
  VALIDATION_FRACTION,
  kShotSplit,
  readSplit,
  streamRng,
  writeSplit,
  type Split,
  type SplitMeta,
} from './split.js';
export { DIHEDRAL_COUNT, applyDihedral, dihedralPoint, dihedralSteps, invertDihedral, randomFlipRot } from './augment.js';
export {
  SYNTH_CATEGORIES,
  SYNTH_DEFAULTS,
  renderSample,
  synthesize,
  type SynthOptions,
  type SynthSample,
  type SynthSummary,
} from './synth.js';
export { overlay, readRgb, resizeProbability, resizeProbabilityFrom, thresholdMask, type RgbImage } from './overlay.js';
export { DEFAULT_IMAGE_CACHE_MB, ImageCache } from './cache.js';
export { connectedComponents, type Box, type Components } from './components.js';
export { DEFAULT_MIN_AREA, MAX_LISTED_REGIONS, judgeMask, type Region, type Verdict } from './verdict.js';
export { cropAndPaste, maxPoolMask, type PasteMode, type PasteResult } from './paste.js';
export { MIN_VISIBLE_STEP as ANOMALY_MIN_STEP, syntheticAnomaly, type Anomaly, type AnomalyOptions } from './synth-anomaly.js';
