// Every dispatch the UNet makes at batch 16, 256x256 (a training step of the full method: forward,
// losses, backward, Adam; and an inference pass) checked against the limits of real adapters: the
// tile, split and vec4 choices are made for each adapter as they would be there (its limits, features
// and subgroup sizes), the dispatches are recorded without running, and each is checked against what
// that adapter gives. Nothing runs on a GPU: the Gpu is a recorder that allocates nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, noGrad, scope } from '../../src/autograd/index.js';
import { WebGpuBackend } from '../../src/backend/webgpu/index.js';
import type { Dispatch, Gpu } from '../../src/gpu/gpu.js';
import { shaderSource } from '../../src/gpu/pipelines.js';
import { conv2dCandidates, conv2dTiled } from '../../src/kernels/conv/forward.js';
import { conv2dInputGradTiled, inputGradCandidates } from '../../src/kernels/conv/input-grad.js';
import { conv2dWeightGradTiled, splitCandidates, weightGradCandidates } from '../../src/kernels/conv/weight-grad.js';
import { materialize } from '../../src/model/module.js';
import { unetShapes } from '../../src/model/unet-shapes.js';
import { INPUT_CHANNELS, Unet } from '../../src/model/unet.js';
import { type BatchSources, batchLayout, makeBatch } from '../../src/train/batch.js';
import { LAYER_STRIDE, TRAIN_DEFAULTS } from '../../src/run/options.js';
import { Adam } from '../../src/train/optimizer.js';
import { recordTrainStep } from '../../src/train/step.js';
import { rng, uniform } from '../../src/util/random.js';
import { LAVAPIPE, recordingGpu } from '../recording-gpu.js';

type Limits = Record<string, number>;

interface AdapterProfile {
  name: string;
  /** Where the numbers come from. */
  source: string;
  limits: Limits;
  features: string[];
  subgroupMinSize: number;
  subgroupMaxSize: number;
  software: boolean;
}

/** WebGPU's default limits (the specification's; Dawn's "tier 0" for core devices). */
const DEFAULTS: Limits = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxStorageBuffersPerShaderStage: 8,
  maxUniformBufferBindingSize: 65536,
  minStorageBufferOffsetAlignment: 256,
  minUniformBufferOffsetAlignment: 256,
  maxBindGroups: 4,
};

/** Dawn's better tier on desktop GPUs (Limits.cpp: workgroups of 1024, 32-64 KiB of workgroup memory, 10 storage buffers). */
const DESKTOP: Limits = {
  ...DEFAULTS,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxStorageBuffersPerShaderStage: 10,
  maxStorageBufferBindingSize: 2147483644,
  maxBufferSize: 4294967296,
};

const ADAPTERS: AdapterProfile[] = [
  { name: 'WebGPU defaults', source: 'the specification', limits: DEFAULTS, features: [], subgroupMinSize: 0, subgroupMaxSize: 0, software: false },
  { ...LAVAPIPE, source: 'gpuseg info on this machine' },
  {
    name: 'SwiftShader (Chromium 156)',
    source: 'gpuseg info on this machine',
    limits: { ...DEFAULTS, maxComputeWorkgroupStorageSize: 32768, maxStorageBuffersPerShaderStage: 12, maxStorageBufferBindingSize: 1073741824, maxBufferSize: 1073741824 },
    features: ['subgroups'],
    subgroupMinSize: 4,
    subgroupMaxSize: 4,
    software: true,
  },
  { name: 'NVIDIA (Vulkan)', source: "Dawn's desktop tier; 48 KiB of shared memory, 32-lane warps", limits: { ...DESKTOP, maxComputeWorkgroupStorageSize: 49152, minStorageBufferOffsetAlignment: 32 }, features: ['subgroups', 'shader-f16'], subgroupMinSize: 32, subgroupMaxSize: 32, software: false },
  { name: 'AMD RDNA (D3D12)', source: "Dawn's desktop tier; 64 KiB of LDS; wave32 and wave64; D3D12's 256-byte alignment", limits: { ...DESKTOP, maxComputeWorkgroupStorageSize: 32768 }, features: ['subgroups', 'shader-f16'], subgroupMinSize: 32, subgroupMaxSize: 64, software: false },
  { name: 'Intel Xe (D3D12)', source: "Dawn's desktop tier; SIMD8 to SIMD32", limits: { ...DESKTOP, maxComputeWorkgroupStorageSize: 32768, maxBufferSize: 2147483648, maxStorageBufferBindingSize: 1073741824 }, features: ['subgroups', 'shader-f16'], subgroupMinSize: 8, subgroupMaxSize: 32, software: false },
  { name: 'Apple M-series (Metal)', source: "Dawn's desktop tier; 32 KiB of threadgroup memory; 32-lane SIMD groups", limits: { ...DESKTOP, maxComputeWorkgroupStorageSize: 32768 }, features: ['subgroups', 'shader-f16'], subgroupMinSize: 32, subgroupMaxSize: 32, software: false },
  { name: 'Qualcomm Adreno (Android, Vulkan)', source: 'WebGPU defaults; waves of 64 and 128', limits: DEFAULTS, features: ['subgroups', 'shader-f16'], subgroupMinSize: 64, subgroupMaxSize: 128, software: false },
  { name: 'ARM Mali Valhall (Android, Vulkan)', source: 'WebGPU defaults; 16-lane warps', limits: DEFAULTS, features: ['subgroups'], subgroupMinSize: 16, subgroupMaxSize: 16, software: false },
];

// ---- the shader's own requirements ------------------------------------------------------------------

/** Evaluates a WGSL constant expression of u32/i32 literals, known constants, + - * / % ( ), min and max. */
function evaluate(expr: string, known: Map<string, number>): number | null {
  const tokens = expr.match(/\d+[ui]?|[A-Za-z_]\w*|[-+*/%(),]/g);
  if (!tokens || tokens.join('') !== expr.replace(/\s+/g, '')) return null;
  let at = 0;
  const peek = () => tokens[at];
  const primary = (): number | null => {
    const t = tokens[at++];
    if (t === undefined) return null;
    if (/^\d/.test(t)) return Number.parseInt(t, 10);
    if (t === '(') {
      const v = sum();
      return tokens[at++] === ')' ? v : null;
    }
    if (t === 'min' || t === 'max') {
      if (tokens[at++] !== '(') return null;
      const a = sum();
      if (tokens[at++] !== ',') return null;
      const b = sum();
      if (tokens[at++] !== ')' || a === null || b === null) return null;
      return t === 'min' ? Math.min(a, b) : Math.max(a, b);
    }
    return known.get(t) ?? null;
  };
  const product = (): number | null => {
    let v = primary();
    while (v !== null && (peek() === '*' || peek() === '/' || peek() === '%')) {
      const op = tokens[at++];
      const r = primary();
      if (r === null) return null;
      v = op === '*' ? v * r : op === '/' ? Math.floor(v / r) : v % r;
    }
    return v;
  };
  const sum = (): number | null => {
    let v = product();
    while (v !== null && (peek() === '+' || peek() === '-')) {
      const op = tokens[at++];
      const r = product();
      if (r === null) return null;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  return at === tokens.length ? v : null;
}

const ELEMENT_BYTES: Record<string, number> = { f32: 4, u32: 4, i32: 4, f16: 2, 'vec2<f32>': 8, 'vec4<f32>': 16, 'vec4<u32>': 16, 'vec4<f16>': 8 };

/** Bytes of a WGSL type built of scalars, vec2/vec4 and (nested) fixed-size arrays. */
function typeBytes(type: string, known: Map<string, number>): number {
  const t = type.replace(/\s+/g, '');
  const array = /^array<(.+),([^,<>]+)>$/.exec(t);
  if (array) {
    const count = evaluate(array[2]!, known);
    if (count === null) throw new Error(`cannot size ${type}`);
    return count * typeBytes(array[1]!, known);
  }
  const bytes = ELEMENT_BYTES[t];
  if (bytes === undefined) throw new Error(`no size for the workgroup type ${type}`);
  return bytes;
}

interface ShaderNeeds {
  workgroupSize: [number, number, number];
  workgroupBytes: number;
  enables: string[];
}

const needsCache = new Map<string, ShaderNeeds>();

/** The workgroup size, workgroup memory and extensions of a specialised shader's entry point. */
function shaderNeeds(d: Dispatch): ShaderNeeds {
  const key = JSON.stringify([d.shader, d.defines ?? {}, d.entryPoint ?? 'main']);
  const cached = needsCache.get(key);
  if (cached) return cached;
  const text = shaderSource(d.shader, d.defines ?? {});
  const known = new Map<string, number>();
  for (const m of text.matchAll(/^\s*const\s+(\w+)\s*(?::\s*\w+)?\s*=\s*([^;]+);/gm)) {
    const v = evaluate(m[2]!.trim(), known);
    if (v !== null) known.set(m[1]!, v);
  }
  const entry = new RegExp(`@compute\\s+@workgroup_size\\(([^)]*)\\)\\s*fn\\s+${d.entryPoint ?? 'main'}\\b`).exec(text);
  if (!entry) throw new Error(`${d.shader}: no @compute entry point ${d.entryPoint ?? 'main'}`);
  const dims = entry[1]!.split(',').map((s) => evaluate(s.trim(), known));
  if (dims.some((v) => v === null)) throw new Error(`${d.shader}: cannot evaluate @workgroup_size(${entry[1]})`);
  const [x = 1, y = 1, z = 1] = dims as number[];
  // Every workgroup variable counts (an upper bound of what the entry point uses: a shader here holds one kernel's tiles).
  let workgroupBytes = 0;
  for (const m of text.matchAll(/var<workgroup>\s+\w+\s*:\s*([^;]+);/g)) workgroupBytes += typeBytes(m[1]!, known);
  const enables = [...text.matchAll(/^\s*enable\s+([\w\s,]+);/gm)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
  const needs = { workgroupSize: [x, y, z] as [number, number, number], workgroupBytes, enables };
  needsCache.set(key, needs);
  return needs;
}

/** What `d` asks of the adapter beyond what it gives, one line per problem. */
function problems(d: Dispatch, a: AdapterProfile): string[] {
  const L = a.limits;
  const out: string[] = [];
  const [x, y = 1, z = 1] = d.workgroups;
  if (Math.max(x, y, z) > L.maxComputeWorkgroupsPerDimension!) out.push(`${x}x${y}x${z} workgroups > ${L.maxComputeWorkgroupsPerDimension} per dimension`);
  if (d.buffers.length > L.maxStorageBuffersPerShaderStage!) out.push(`${d.buffers.length} storage buffers > ${L.maxStorageBuffersPerShaderStage}`);
  for (const [i, ref] of d.buffers.entries()) {
    if (ref.size > L.maxStorageBufferBindingSize!) out.push(`binding ${i} of ${ref.size} bytes > maxStorageBufferBindingSize ${L.maxStorageBufferBindingSize}`);
    if (ref.offset % L.minStorageBufferOffsetAlignment! !== 0) out.push(`binding ${i} at offset ${ref.offset}, not a multiple of ${L.minStorageBufferOffsetAlignment}`);
  }
  if (d.uniforms && d.uniforms.byteLength > L.maxUniformBufferBindingSize!) out.push(`uniforms of ${d.uniforms.byteLength} bytes`);
  const needs = shaderNeeds(d);
  const [wx, wy, wz] = needs.workgroupSize;
  if (wx * wy * wz > L.maxComputeInvocationsPerWorkgroup!) out.push(`workgroup of ${wx}x${wy}x${wz} > ${L.maxComputeInvocationsPerWorkgroup} invocations`);
  if (wx > L.maxComputeWorkgroupSizeX! || wy > L.maxComputeWorkgroupSizeY! || wz > L.maxComputeWorkgroupSizeZ!) out.push(`workgroup of ${wx}x${wy}x${wz} beyond the per-dimension sizes`);
  if (needs.workgroupBytes > L.maxComputeWorkgroupStorageSize!) out.push(`${needs.workgroupBytes} bytes of workgroup memory > ${L.maxComputeWorkgroupStorageSize}`);
  for (const e of needs.enables) if (!a.features.includes(e.replace(/_/g, '-'))) out.push(`enable ${e} without the feature`);
  return out;
}

const BATCH = 16;
const SIZE = 256;

/** Records a training step of the full method and an inference pass on `gpu`. */
async function recordUnet(gpu: Gpu): Promise<void> {
  const be = new WebGpuBackend(gpu);
  const model = new Unet();
  const storage = materialize(model, be, rng(0));
  const opt = new Adam(storage, model.namedParameters().map(([, s]) => s));
  const r = rng(1);
  const pixels = SIZE * SIZE;
  const mask = new Uint8Array(pixels).fill(1, 0, pixels >> 3);
  const shots = [{ image: uniform(r, pixels * 3, 0, 1), mask }];
  const normal = Uint8Array.from(uniform(r, pixels * 3, 0, 256), Math.floor);
  const sources: BatchSources = { shots, normalCount: 1, normal: async () => normal };
  // 16 images a step: 8 annotated samples (--batch 8) and 8 normal images on top (--normal-per-batch 8).
  const layout = batchLayout(BATCH / 2, BATCH / 2, true);
  const batch = await makeBatch({ size: SIZE, layout, cellStride: LAYER_STRIDE[TRAIN_DEFAULTS.nbrLayer], paste: TRAIN_DEFAULTS.paste }, sources, r);
  const cfg = { loss: 'bce' as const, nbr: true, lambdaBg: TRAIN_DEFAULTS.lambdaBg, lambdaFeat: TRAIN_DEFAULTS.lambdaFeat, nbrLayer: TRAIN_DEFAULTS.nbrLayer };
  await recordTrainStep(model, opt, batch, cfg, 1e-4, true);
  model.setTraining(false);
  await noGrad(() => scope(() => ({ p: model.forward(Tensor.from(be, batch.input.subarray(0, 4 * pixels * INPUT_CHANNELS), [4, SIZE, SIZE, INPUT_CHANNELS])).toArray() }))).p;
}

// The WebGPU constants (GPUBufferUsage, ...) that a browser has as globals; no device is opened.
beforeAll(async () => {
  Object.assign(globalThis, (await import('webgpu')).globals);
});

describe(`every dispatch of the UNet at batch ${BATCH}, ${SIZE}x${SIZE} fits the adapter it was chosen for`, () => {
  for (const adapter of ADAPTERS) {
    it(`${adapter.name} (${adapter.source})`, async () => {
      const { gpu, recorded } = recordingGpu(adapter);
      await recordUnet(gpu);
      expect(recorded.dispatches.length).toBeGreaterThan(300);
      const found = new Map<string, string>();
      for (const d of recorded.dispatches) for (const p of problems(d, adapter)) found.set(`${d.kernel}: ${p}`, JSON.stringify(d.defines ?? {}));
      const tooBig = recorded.buffers.filter((b) => b > adapter.limits.maxBufferSize!);
      if (tooBig.length) found.set(`${tooBig.length} buffers larger than maxBufferSize ${adapter.limits.maxBufferSize}`, String(Math.max(...tooBig)));
      expect([...found].map(([p, defines]) => `${p} ${defines}`)).toEqual([]);
    });
  }
});

describe(`every variant the tuner may measure on the UNet's conv layers at batch ${BATCH}, ${SIZE}x${SIZE} fits the adapter`, () => {
  for (const adapter of ADAPTERS) {
    it(adapter.name, () => {
      const { gpu, recorded } = recordingGpu(adapter);
      let variants = 0;
      for (const { g } of unetShapes(BATCH, SIZE).convs) {
        const x = gpu.alloc(g.n * g.h * g.w * g.cin * 4);
        const w = gpu.alloc(g.kh * g.kw * g.cin * g.cout * 4);
        const dy = gpu.alloc(g.n * g.oh * g.ow * g.cout * 4);
        const bias = g.hasBias ? gpu.alloc(g.cout * 4) : null;
        for (const tile of conv2dCandidates(gpu, g)) conv2dTiled(gpu, x, w, bias, g, tile);
        for (const tile of inputGradCandidates(gpu, g)) conv2dInputGradTiled(gpu, dy, w, g, tile);
        for (const tile of weightGradCandidates(gpu, g)) for (const t of splitCandidates(gpu, g, tile)) conv2dWeightGradTiled(gpu, x, dy, g, t);
        variants++;
      }
      expect(variants).toBeGreaterThan(10);
      const found = new Set<string>();
      for (const d of recorded.dispatches) for (const p of problems(d, adapter)) found.add(`${d.kernel} ${JSON.stringify(d.defines ?? {})}: ${p}`);
      expect([...found]).toEqual([]);
    });
  }
});

describe('the checker itself', () => {
  it('sees a workgroup, its memory and an extension beyond the limits', () => {
    const tile: Dispatch = {
      kernel: 'conv2d',
      shader: 'conv2d_workgroup_tile.wgsl',
      defines: { WX: 16, WY: 32, TM: 4, NV: 2, BK: 32, VEC_OUT: true, RELU: false, ADD: false, BIAS: false },
      buffers: [],
      workgroups: [70000, 1, 1],
    };
    const needs = shaderNeeds(tile);
    expect(needs.workgroupSize).toEqual([16, 32, 1]);
    // As: BK x BM floats (BM = WY * TM), Bs: BK x BN4 vec4 (BN4 = WX * NV).
    expect(needs.workgroupBytes).toBe(32 * 128 * 4 + 32 * 32 * 16);
    const p = problems(tile, ADAPTERS[0]!);
    expect(p.join('\n')).toMatch(/70000x1x1 workgroups > 65535/);
    expect(p.join('\n')).toMatch(/workgroup of 16x32x1 > 256 invocations/);
    expect(p.join('\n')).toMatch(/32768 bytes of workgroup memory > 16384/);
    expect(evaluate('(X_LOADS + THREADS - 1u) / THREADS', new Map([['X_LOADS', 10], ['THREADS', 4]]))).toBe(3);
    expect(evaluate('max(TM / SHARE, 1u)', new Map([['TM', 4], ['SHARE', 8]]))).toBe(1);
  });
});
