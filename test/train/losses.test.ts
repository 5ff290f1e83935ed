// The method's loss (METHOD.md) as composed from tested ops, against a direct float64 computation of
// the formulas and of their gradient, on small tensors; then the GPU against the CPU reference.
import { describe, expect, it } from 'vitest';
import { Tensor, scope } from '../../src/autograd/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import type { Batch, SampleKind } from '../../src/train/batch.js';
import { FEATURE_MARGIN, type LossConfig, methodLoss, packTerms, uploadBatch } from '../../src/train/losses.js';
import { readTerms } from '../../src/train/step.js';
import { type Rng, rng, uniform } from '../../src/util/random.js';
import { expectClose, useGpu } from '../helpers.js';

const ctx = useGpu();

/** Side of the images and of the feature grid, and feature channels: tiny, so the loops below are plain. */
const S = 4;
const G = 2;
const C = 5;
const STRIDE = S / G;
const CFG: LossConfig = { loss: 'bce', nbr: true, lambdaBg: 0.7, lambdaFeat: 0.3 };

interface Problem {
  batch: Batch;
  logits: Float64Array;
  features: Float64Array;
}

/**
 * A batch of the given kinds with random logits, features (signed, so cosines of every sign occur) and
 * masks: defect pixels with probability `defect` in annotated samples, none in normal ones.
 */
function problem(kinds: SampleKind[], defect: number, r: Rng): Problem {
  const n = kinds.length;
  const target = new Float32Array(n * S * S);
  const defectCells = new Float32Array(n * G * G);
  kinds.forEach((k, i) => {
    for (let p = 0; p < S * S; p++) {
      if (k === 'normal' || r() >= defect) continue;
      target[i * S * S + p] = 1;
      const [y, x] = [Math.floor(p / S), p % S];
      defectCells[i * G * G + Math.floor(y / STRIDE) * G + Math.floor(x / STRIDE)] = 1;
    }
  });
  const normal = Float32Array.from(kinds, (k) => (k === 'normal' ? 1 : 0));
  const defectCellCount = defectCells.reduce((a, v) => a + v, 0);
  const batch: Batch = {
    n,
    size: S,
    kinds,
    input: new Float32Array(n * S * S * 4),
    target,
    segWeights: Float32Array.from(normal, (v) => 1 - v),
    normalWeights: normal,
    normals: normal.reduce((a, v) => a + v, 0),
    grid: G,
    defectCells,
    normalCells: Float32Array.from(defectCells, (v) => 1 - v),
    defectCellCount,
    normalCellCount: n * G * G - defectCellCount,
    paste: null,
  };
  return { batch, logits: Float64Array.from(uniform(r, n * S * S, -4, 4)), features: Float64Array.from(uniform(r, n * G * G * C, -1, 1)) };
}

const bce = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** METHOD.md's loss and its gradient, written out directly in float64. */
function direct(p: Problem, cfg: LossConfig) {
  const { batch: b, logits, features } = p;
  const P = S * S;
  const dLogits = new Float64Array(logits.length);
  const weighted = (w: ArrayLike<number>, coef: number) => {
    const sw = Array.from(w).reduce((a, v) => a + v, 0);
    if (sw === 0) return 0;
    let loss = 0;
    for (let i = 0; i < b.n; i++) {
      for (let q = i * P; q < (i + 1) * P; q++) {
        loss += (w[i]! * bce(logits[q]!, b.target[q]!)) / (P * sw);
        dLogits[q]! += (coef * w[i]! * (sigmoid(logits[q]!) - b.target[q]!)) / (P * sw);
      }
    }
    return loss;
  };
  const seg = weighted(b.segWeights, 1);
  const bg = cfg.nbr && b.normals > 0 ? weighted(b.normalWeights, cfg.lambdaBg) : null;

  // The feature term: unit rows f, the centre c (a constant), then d/df through the normalisation.
  const N = b.n * G * G;
  const f = new Float64Array(N * C);
  const norms = new Float64Array(N);
  for (let k = 0; k < N; k++) {
    let s = 0;
    for (let j = 0; j < C; j++) s += features[k * C + j]! ** 2;
    norms[k] = Math.sqrt(s);
    for (let j = 0; j < C; j++) f[k * C + j] = features[k * C + j]! / norms[k]!;
  }
  const centre = new Float64Array(C);
  for (let k = 0; k < N; k++) if (b.normalCells[k]) for (let j = 0; j < C; j++) centre[j]! += f[k * C + j]!;
  const cn = Math.hypot(...centre);
  if (cn > 0) for (let j = 0; j < C; j++) centre[j]! /= cn;
  let feat = 0;
  const dFeatures = new Float64Array(N * C);
  for (let k = 0; k < N; k++) {
    const df = new Float64Array(C);
    if (b.normalCells[k]) {
      for (let j = 0; j < C; j++) {
        const d = f[k * C + j]! - centre[j]!;
        feat += (d * d) / b.normalCellCount;
        df[j] = (2 * d) / b.normalCellCount;
      }
    } else {
      let cos = 0;
      for (let j = 0; j < C; j++) cos += f[k * C + j]! * centre[j]!;
      if (cos > FEATURE_MARGIN) {
        feat += (cos - FEATURE_MARGIN) / b.defectCellCount;
        for (let j = 0; j < C; j++) df[j] = centre[j]! / b.defectCellCount;
      }
    }
    let dot = 0;
    for (let j = 0; j < C; j++) dot += df[j]! * f[k * C + j]!;
    for (let j = 0; j < C; j++) dFeatures[k * C + j] = (cfg.lambdaFeat * (df[j]! - f[k * C + j]! * dot)) / norms[k]!;
  }
  const total = seg + (bg === null ? 0 : cfg.lambdaBg * bg) + (cfg.nbr ? cfg.lambdaFeat * feat : 0);
  return { total, seg, bg, feat: cfg.nbr ? feat : null, dLogits, dFeatures };
}

/** The composed loss on a backend: its terms and the gradients of logits and features. */
async function composed(be: Backend, p: Problem, cfg: LossConfig) {
  const out = scope(() => {
    const logits = Tensor.from(be, p.logits, [p.batch.n, S, S, 1], true);
    const features = Tensor.from(be, p.features, [p.batch.n, G, G, C], true);
    const terms = methodLoss([{ logits, features, b: uploadBatch(be, p.batch) }], cfg, false);
    terms.total.backward();
    const grads = { dLogits: logits.grad!.toArray(), dFeatures: features.grad?.toArray() ?? null };
    return { packed: packTerms(terms).toArray(), ...grads };
  });
  const [total, seg, bg, feat] = await out.packed;
  return { total: total!, seg: seg!, bg: bg!, feat: feat!, dLogits: await out.dLogits, dFeatures: await out.dFeatures };
}

async function withFeatureGradient(be: Backend, p: Problem, cfg: LossConfig) {
  const r = await composed(be, p, cfg);
  expect(r.dFeatures, 'features reached by the loss').not.toBeNull();
  return { ...r, dFeatures: r.dFeatures! };
}

const MIXED: SampleKind[] = ['shot', 'shot', 'normal', 'normal'];
const CASES: { name: string; kinds: SampleKind[]; defect: number }[] = [
  { name: 'shots with defects and normal images', kinds: MIXED, defect: 0.3 },
  { name: 'a batch with no defect cell', kinds: MIXED, defect: 0 },
  { name: 'a batch with no normal image', kinds: ['shot', 'shot', 'shot'], defect: 0.3 },
  { name: 'a batch whose every cell is a defect cell', kinds: ['shot', 'shot'], defect: 1 },
];

describe('the method loss (L_seg + lambda_bg L_bg + lambda_feat L_feat)', () => {
  const cpu = new CpuBackend();
  for (const c of CASES) {
    it(`matches a direct float64 computation, value and gradient: ${c.name}`, async () => {
      const p = problem(c.kinds, c.defect, rng(c.name.length));
      const want = direct(p, CFG);
      const got = await withFeatureGradient(cpu, p, CFG);
      const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(b)));
      close(got.total, want.total);
      close(got.seg, want.seg);
      close(got.bg, want.bg ?? 0);
      close(got.feat, want.feat!);
      expectClose(got.dLogits, want.dLogits, 1, 1e-12 / 2 ** -23, 'dlogits');
      expectClose(got.dFeatures, want.dFeatures, 1, 1e-12 / 2 ** -23, 'dfeatures');
      if (c.defect === 0) expect(p.batch.defectCellCount).toBe(0);
      if (c.defect === 1) expect(p.batch.normalCellCount).toBe(0);
    });
  }

  it('without NBR is the segmentation loss alone, and the features get no gradient', async () => {
    const p = problem(MIXED, 0.3, rng(5));
    const cfg = { ...CFG, nbr: false };
    const want = direct(p, cfg);
    const got = await composed(cpu, p, cfg);
    expect(Math.abs(got.total - want.seg)).toBeLessThan(1e-12);
    expect(got.dFeatures).toBeNull();
  });

  it('with lambda_feat 0 the feature term is not computed: no value, no gradient to the features', async () => {
    const p = problem(MIXED, 0.3, rng(6));
    const cfg = { ...CFG, lambdaFeat: 0 };
    const want = direct(p, cfg);
    const got = await composed(cpu, p, cfg);
    expect(Math.abs(got.total - (want.seg + cfg.lambdaBg * want.bg!))).toBeLessThan(1e-12);
    expect(got.feat).toBe(0);
    expect(got.dFeatures).toBeNull();
    expect(readTerms(Float64Array.of(got.total, got.seg, got.bg, got.feat, 0), { normals: 2, pasted: false }, cfg).feat).toBeNull();
    expect(readTerms(Float64Array.of(got.total, got.seg, got.bg, 0.25, 0), { normals: 2, pasted: false }, CFG).feat).toBe(0.25);
  });

  it('the GPU agrees with the CPU reference, terms and gradients', async () => {
    for (const c of CASES) {
      const p = problem(c.kinds, c.defect, rng(17 + c.name.length));
      const ref = await withFeatureGradient(cpu, p, CFG);
      const gpu = await withFeatureGradient(ctx.be, p, CFG);
      // A few dozen float32 roundings per value; the features' gradient passes two normalisations.
      for (const k of ['total', 'seg', 'bg', 'feat'] as const) expectClose([gpu[k]], [ref[k]], Math.max(1, Math.abs(ref[k])), 64, `${c.name}: ${k}`);
      expectClose(gpu.dLogits, ref.dLogits, 1 / (S * S), 64, `${c.name}: dlogits`);
      expectClose(gpu.dFeatures, ref.dFeatures, 1, 256, `${c.name}: dfeatures`);
    }
  });
});
