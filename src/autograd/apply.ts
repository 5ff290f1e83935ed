// Runs an entry of the op table on tensors and, when a gradient is needed, leaves its tape node on the
// result (tensor.ts walks the nodes backward).
import { opRules } from './ops.js';
import type { OpRule } from './rule.js';
import { Tensor, isGradEnabled } from './tensor.js';

export type OpName = keyof typeof opRules;
/** Each op's attributes (its non-tensor arguments), as its table entry states them. */
export type OpAttrs = { [P in OpName]: (typeof opRules)[P] extends OpRule<infer A> ? A : never };

/** Runs op `P` on tensors, recording the tape entry when any input requires a gradient. */
export function apply<P extends OpName, S>(op: P, inputs: (Tensor<S> | undefined)[], attrs: OpAttrs[P]): Tensor<S> {
  const present = inputs.filter((t): t is Tensor<S> => !!t);
  const backend = present[0]!.backend;
  for (const t of present) {
    t.assertLive(op);
    if (t.backend !== backend) throw new Error(`${op}: inputs live on different backends`);
  }
  const rule = opRules[op] as OpRule<OpAttrs[P]>;
  const r = rule.forward(inputs as Tensor<S>[], attrs);
  const needsGrad = isGradEnabled() && present.some((t) => t.requiresGrad);
  const out = new Tensor(backend, r.data, r.shape, needsGrad);
  const saved = r.saved ?? [];
  if (needsGrad) {
    out.node = {
      op,
      // Absent optional inputs (a missing bias) stay as undefined slots so rules index them by position.
      inputs: inputs as Tensor<S>[],
      saved,
      backward: (dy) => rule.backward(dy, inputs as Tensor<S>[], out, attrs, saved),
    };
  } else {
    for (const s of saved) backend.free(s);
  }
  return out;
}
