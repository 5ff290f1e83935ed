// Finite-difference gradient check on the CPU reference, in float64. Every differentiable op's
// backward is checked with this: L = sum(f(x) * r) for a fixed random r, analytic dL/dx from the tape
// against central differences.
import { CpuBackend } from '../backend/cpu/index.js';
import type { Shape } from '../core/geometry.js';
import { rng, uniform } from '../util/random.js';
import { Tensor, noGrad, scope } from './tensor.js';

export interface GradcheckInput {
  values: ArrayLike<number>;
  shape: Shape;
  /** false: a constant (no gradient checked). Default true. */
  grad?: boolean;
}

export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytic - numeric| / (atol + rtol * max(|analytic|, |numeric|)); ok when <= 1. */
  worst: number;
  detail: string;
  checked: number;
}

export interface GradcheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** At most this many elements per input are perturbed (chosen at random); default 64. */
  maxChecks?: number;
  seed?: number;
}

export function gradcheck(fn: (...xs: Tensor<Float64Array>[]) => Tensor<Float64Array>, inputs: GradcheckInput[], o: GradcheckOptions = {}): GradcheckResult {
  const eps = o.eps ?? 1e-6;
  const rtol = o.rtol ?? 1e-5;
  const atol = o.atol ?? 1e-8;
  const r = rng(o.seed ?? 1234);
  const be = new CpuBackend();
  return scope(() => {
    const xs = inputs.map((inp) => Tensor.from(be, inp.values, inp.shape, inp.grad !== false));
    const out = fn(...xs);
    const proj = Float64Array.from(uniform(r, out.size, -1, 1));
    const seed = new Tensor(be, proj, out.shape);
    out.backward(seed);
    const loss = (): number =>
      noGrad(() =>
        scope(() => {
          const y = fn(...xs).data;
          let acc = 0;
          for (let i = 0; i < proj.length; i++) acc += y[i]! * proj[i]!;
          return acc;
        }),
      );
    let worst = 0;
    let detail = 'no gradient checked';
    let checked = 0;
    xs.forEach((x, k) => {
      if (inputs[k]!.grad === false) return;
      if (!x.grad) throw new Error(`gradcheck: input ${k} ${JSON.stringify(x.shape)} got no gradient`);
      const analytic = x.grad.data;
      const data = x.data;
      const picks = x.size <= (o.maxChecks ?? 64) ? [...Array(x.size).keys()] : Array.from({ length: o.maxChecks ?? 64 }, () => Math.floor(r() * x.size));
      for (const i of picks) {
        const keep = data[i]!;
        data[i] = keep + eps;
        const lp = loss();
        data[i] = keep - eps;
        const lm = loss();
        data[i] = keep;
        const numeric = (lp - lm) / (2 * eps);
        const a = analytic[i]!;
        const ratio = Math.abs(a - numeric) / (atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)));
        const score = Number.isNaN(ratio) ? Infinity : ratio;
        if (checked++ === 0 || score > worst) {
          worst = score;
          detail = `input ${k} element ${i}: analytic ${a}, numeric ${numeric}`;
        }
      }
      x.grad.dispose();
      x.grad = null;
    });
    return { ok: worst <= 1, worst, detail, checked };
  });
}
