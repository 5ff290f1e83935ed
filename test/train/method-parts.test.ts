// The method's parts beyond the paper's first reading (METHOD.md, issue 24): the normal images through
// the network apart (the loss of two parts equals that of one), hard-negative background mining against
// a float64 computation, the feature term's ramp-up, pre-activation features, the variants' names.
import { describe, expect, it } from 'vitest';
import { F, Tensor, noGrad, scope } from '../../src/autograd/index.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { variantOptions } from '../../src/experiment/variants.js';
import { materialize } from '../../src/model/module.js';
import { Unet } from '../../src/model/unet.js';
import { type Batch, type SampleKind, batchFromSamples } from '../../src/train/batch.js';
import { splitBatch } from '../../src/train/batch-split.js';
import { HINGE_PROBABILITY, type LossConfig, type LossPart, hingeBackground, methodLoss, packTerms, uploadBatch } from '../../src/train/losses.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { bgWeight, featWeight } from '../../src/train/schedule.js';
import { type Rng, rng, uniform } from '../../src/util/random.js';
import { useGpu } from '../helpers.js';

const S = 8;
const STRIDE = 4;
const G = S / STRIDE;
const C = 3;
const cpu = new CpuBackend();

/** Random images; masks with a small square defect in annotated samples, empty in normal ones. */
function randomBatch(kinds: SampleKind[], r: Rng): Batch {
  const samples = kinds.map((k) => {
    const mask = new Uint8Array(S * S);
    if (k !== 'normal') {
      const x0 = Math.floor(r() * (S - 3));
      const y0 = Math.floor(r() * (S - 3));
      for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) mask[y * S + x] = 1;
    }
    return { image: Float32Array.from(uniform(r, S * S * 3, 0, 1)), mask };
  });
  return batchFromSamples(samples, kinds, [], { size: S, cellStride: STRIDE });
}

/** The terms of methodLoss on the CPU for logits and features (row-major [n, ...]) split as the parts are. */
async function terms(parts: Batch[], logits: Float64Array, features: Float64Array, cfg: LossConfig): Promise<number[]> {
  let row = 0;
  const out = scope(() => {
    const lp = parts.map((b): LossPart => {
      const l = Tensor.from(cpu, logits.subarray(row * S * S, (row + b.n) * S * S), [b.n, S, S, 1]);
      const f = Tensor.from(cpu, features.subarray(row * G * G * C, (row + b.n) * G * G * C), [b.n, G, G, C]);
      row += b.n;
      return { logits: l, features: f, b: uploadBatch(cpu, b) };
    });
    return { value: packTerms(methodLoss(lp, cfg, false)).toArray() };
  });
  return Array.from(await out.value);
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

describe('the normal images apart (--normal-bn separate)', () => {
  it('splits a batch into its annotated samples and its normal images, row for row', () => {
    const b = randomBatch(['shot', 'shot', 'synthetic', 'normal', 'normal'], rng(1));
    const [a, n] = splitBatch(b);
    expect([a!.n, n!.n, a!.normals, n!.normals]).toEqual([3, 2, 0, 2]);
    expect(a!.kinds).toEqual(['shot', 'shot', 'synthetic']);
    expect(Array.from(n!.input)).toEqual(Array.from(b.input.subarray(3 * S * S * 4)));
    expect(Array.from(a!.target)).toEqual(Array.from(b.target.subarray(0, 3 * S * S)));
    expect(a!.defectCellCount + n!.defectCellCount).toBe(b.defectCellCount);
    expect(a!.normalCellCount + n!.normalCellCount).toBe(b.normalCellCount);
    expect(splitBatch(randomBatch(['shot', 'shot'], rng(2)))).toHaveLength(1);
  });

  it('gives the loss terms of the whole batch (the parts only change what batch norm sees)', async () => {
    const r = rng(3);
    const b = randomBatch(['shot', 'shot', 'normal', 'normal', 'normal'], r);
    const logits = Float64Array.from(uniform(r, b.n * S * S, -3, 3));
    const features = Float64Array.from(uniform(r, b.n * G * G * C, -1, 1));
    const cfg: LossConfig = { loss: 'bce', nbr: true, lambdaBg: 0.7, lambdaFeat: 0.3 };
    const whole = await terms([b], logits, features, cfg);
    const apart = await terms(splitBatch(b), logits, features, cfg);
    expect(whole.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < whole.length; i++) expect(apart[i]).toBeCloseTo(whole[i]!, 12);
  });
});

describe('hard-negative background mining (--bg-loss hard)', () => {
  it("averages BCE over each normal image's largest --bg-top share of logits, in float64 by hand", async () => {
    const r = rng(4);
    const b = randomBatch(['shot', 'normal', 'normal'], r);
    const logits = Float64Array.from(uniform(r, b.n * S * S, -4, 4));
    const features = Float64Array.from(uniform(r, b.n * G * G * C, -1, 1));
    const top = 0.25;
    const k = Math.round(top * S * S); // 16 of 64 pixels
    let sum = 0;
    for (const i of [1, 2]) {
      const row = Array.from(logits.subarray(i * S * S, (i + 1) * S * S)).sort((x, y) => y - x);
      for (let j = 0; j < k; j++) sum += softplus(row[j]!);
    }
    const expected = sum / (2 * k);
    const base: LossConfig = { loss: 'bce', nbr: true, lambdaBg: 1, lambdaFeat: 0.1 };
    const hard = await terms([b], logits, features, { ...base, bgLoss: 'hard', bgTop: top });
    expect(hard[2]).toBeCloseTo(expected, 12);
    // Over every pixel it is the mean term, and larger than that when it keeps the hardest quarter.
    const mean = await terms([b], logits, features, base);
    const all = await terms([b], logits, features, { ...base, bgLoss: 'hard', bgTop: 1 });
    expect(all[2]).toBeCloseTo(mean[2]!, 12);
    expect(hard[2]).toBeGreaterThan(mean[2]!);
    // The other terms do not change.
    expect(hard[1]).toBe(mean[1]);
    expect(hard[3]).toBe(mean[3]);
  });
});

describe('the hinge background term (--bg-loss hinge)', () => {
  it('averages relu(logit - logit(0.1)) over each normal image, in float64 by hand, and is 0 where all score below 0.1', async () => {
    const r = rng(5);
    const b = randomBatch(['shot', 'normal', 'normal'], r);
    const logits = Float64Array.from(uniform(r, b.n * S * S, -4, 4));
    const features = Float64Array.from(uniform(r, b.n * G * G * C, -1, 1));
    const margin = Math.log(HINGE_PROBABILITY / (1 - HINGE_PROBABILITY));
    let sum = 0;
    for (const i of [1, 2]) for (const l of logits.subarray(i * S * S, (i + 1) * S * S)) sum += Math.max(0, l - margin);
    const base: LossConfig = { loss: 'bce', nbr: true, lambdaBg: 1, lambdaFeat: 0.1 };
    const hinge = await terms([b], logits, features, { ...base, bgLoss: 'hinge' });
    expect(hinge[2]).toBeCloseTo(sum / (2 * S * S), 12);
    // The shot's logits do not enter it: raising them all changes nothing.
    const raised = logits.slice();
    for (let p = 0; p < S * S; p++) raised[p]! += 3;
    expect((await terms([b], raised, features, { ...base, bgLoss: 'hinge' }))[2]).toBe(hinge[2]);
    // Normal images scored below 0.1 everywhere cost nothing, where the mean term still pulls them.
    const low = logits.map((l, p) => (p >= S * S ? Math.min(l, margin - 0.01) : l));
    expect((await terms([b], low, features, { ...base, bgLoss: 'hinge' }))[2]).toBe(0);
    expect((await terms([b], low, features, base))[2]).toBeGreaterThan(0.05);
  });

  it('has the gradient of its finite differences', () => {
    const r = rng(6);
    const n = 3;
    const pixels = 5;
    // Logits away from the hinge's kink (within 0.05 of it a difference step would cross it).
    const margin = Math.log(HINGE_PROBABILITY / (1 - HINGE_PROBABILITY));
    const values = Array.from(uniform(r, n * pixels, -5, 2)).map((v) => (Math.abs(v - margin) < 0.05 ? v + 0.1 : v));
    // The first row an annotated sample (weight 0), the other two normal images.
    const result = gradcheck((x, w) => hingeBackground(x, w!), [{ values, shape: [n, pixels] }, { values: [0, 1, 1], shape: [n], grad: false }]);
    expect(result.ok, JSON.stringify(result)).toBe(true);
  });
});

describe('the feature term ramp-up (--feat-rampup)', () => {
  it('rises linearly over the first share of the steps, then holds', () => {
    const o = { lambdaFeat: 0.2, featRampup: 0.25, steps: 100 };
    expect(featWeight(o, 0)).toBeCloseTo(0.2 / 25, 15);
    expect(featWeight(o, 11)).toBeCloseTo(0.2 * (12 / 25), 15);
    expect(featWeight(o, 24)).toBe(0.2);
    expect(featWeight(o, 99)).toBe(0.2);
    expect(featWeight({ ...o, featRampup: 0 }, 0)).toBe(0.2);
  });
});

describe('the background term\'s start (--bg-start)', () => {
  it('is 0 for the first round(bgStart * steps) steps, then lambda_bg', () => {
    const o = { lambdaBg: 0.7, bgStart: 2 / 3, steps: 300 };
    expect(bgWeight(o, 0)).toBe(0);
    expect(bgWeight(o, 199)).toBe(0);
    expect(bgWeight(o, 200)).toBe(0.7);
    expect(bgWeight(o, 299)).toBe(0.7);
    expect(bgWeight({ ...o, steps: 4, bgStart: 0.5 }, 1)).toBe(0);
    expect(bgWeight({ ...o, steps: 4, bgStart: 0.5 }, 2)).toBe(0.7);
    expect(bgWeight({ ...o, bgStart: 0 }, 0)).toBe(0.7);
  });
});

describe('variants', () => {
  it('read a base variant and +modifiers', () => {
    expect(variantOptions('baseline')).toEqual({ nbr: false, cropPaste: false, weighting: false });
    expect(variantOptions('full+pre+hard')).toEqual({ nbr: true, cropPaste: true, weighting: true, nbrFeatures: 'pre', bgLoss: 'hard' });
    expect(variantOptions('baseline+syn')).toEqual({ nbr: false, cropPaste: false, weighting: false, synthetic: 2 });
    // A later modifier of the same part wins.
    expect(variantOptions('full+pre+relu')!.nbrFeatures).toBe('relu');
    expect(variantOptions('full+sepbn+fraction+ramp')).toMatchObject({ normalBn: 'separate', cellLabels: 'fraction', featRampup: 0.3 });
    expect(variantOptions('baseline+synfirst')).toEqual({ nbr: false, cropPaste: false, weighting: false, syntheticPhase: 1 / 3 });
    expect(variantOptions('nbr+nofeat+hard+late')).toEqual({ nbr: true, cropPaste: false, weighting: false, lambdaFeat: 0, bgLoss: 'hard', bgStart: 2 / 3 });
    expect(variantOptions('nbr+nofeat+matched')).toEqual({ nbr: true, cropPaste: false, weighting: false, lambdaFeat: 0, paste: 'matched' });
    expect(variantOptions('cpw+extra')).toEqual({ nbr: false, cropPaste: true, weighting: true, pasteSlots: 'extra' });
    expect(variantOptions('cpw+extra+shared')!.pasteSlots).toBe('shared');
    for (const bad of ['', 'fullest', 'full+', 'full+nope', '+pre', 'toString']) expect(variantOptions(bad), bad).toBeNull();
  });
});

describe('pre-activation features (--nbr-features pre)', () => {
  const ctx = useGpu();
  it("are the layer's output before its last ReLU: relu(pre) is the feature map, and the logits do not change", async () => {
    const m = new Unet();
    const store = materialize(m, ctx.be, rng(5));
    try {
      const x = Float32Array.from(uniform(rng(6), 2 * 32 * 32 * 4, -1, 1));
      const out = scope(() => {
        const input = Tensor.from(ctx.be, x, [2, 32, 32, 4]);
        return noGrad(() => {
          const plain = m.forwardWithFeatures(input);
          const withPre = m.forwardWithFeatures(input, 2);
          return {
            feature: plain.features[2]!.toArray(),
            pre: withPre.pre!.toArray(),
            reluPre: F.relu(withPre.pre!).toArray(),
            logits: plain.logits.toArray(),
            logitsPre: withPre.logits.toArray(),
          };
        });
      });
      const [feature, pre, reluPre, logits, logitsPre] = await Promise.all([out.feature, out.pre, out.reluPre, out.logits, out.logitsPre]);
      expect(pre.length).toBe(2 * 4 * 4 * 128);
      expect(pre.some((v) => v < 0)).toBe(true);
      // The fused add-relu and the unfused add then relu round the same sum once each.
      for (let i = 0; i < feature.length; i++) expect(reluPre[i]).toBeCloseTo(feature[i]!, 5);
      for (let i = 0; i < logits.length; i++) expect(logitsPre[i]).toBeCloseTo(logits[i]!, 4);
    } finally {
      store.params.destroy();
      store.buffers.destroy();
    }
  });
});
