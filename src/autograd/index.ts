export { Tensor, noGrad, scope, isGradEnabled } from './tensor.js';
export * as F from './functional.js';
export { opRules, type OpName, type OpAttrs } from './ops.js';
export { gradcheck, type GradcheckResult } from './gradcheck.js';
