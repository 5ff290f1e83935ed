export { Tensor, noGrad, scope, isGradEnabled } from './tensor.js';
export * as F from './functional.js';
export { opRules } from './ops.js';
export { apply } from './apply.js';
export type { OpName, OpAttrs } from './apply.js';
export { gradcheck, type GradcheckResult } from './gradcheck.js';
