import { describe, expect, it } from 'vitest';
import { benchMatmul } from '../../src/measure/matmul.js';
import { F, Tensor, gradcheck } from '../../src/autograd/index.js';
import type { MatmulGeometry } from '../../src/core/geometry.js';
import { PLAIN_TILE, type MatmulTile, defaultMatmulTile, matmul } from '../../src/kernels/matmul.js';
import { rng, uniform } from '../../src/util/random.js';
import { abs, expectClose, readScoped, useGpu } from '../helpers.js';
import * as K from '../../src/backend/kernels.js';

const ctx = useGpu();

// [m, n, k]: 1s, odd sizes on every axis (partial tiles, the k % 4 tail, scalar loads), multiples of 4
// (vec4 loads) and sizes past one workgroup's tile in both directions.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 33],
  [13, 7, 1],
  [33, 65, 13],
  [65, 33, 7],
  [16, 20, 12],
  [64, 64, 64],
  [100, 36, 132],
];
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

async function gpuMatmul(a: Float32Array, b: Float32Array, g: MatmulGeometry, tile: MatmulTile): Promise<Float32Array> {
  const { gpu } = ctx;
  const upload = (data: Float32Array) => {
    const ref = gpu.alloc(data.byteLength, 'test');
    gpu.write(ref, data);
    return ref;
  };
  return gpu.readF32(matmul(gpu, upload(a), upload(b), g, tile));
}

describe('matmul against the reference', () => {
  const tiles: [string, () => MatmulTile][] = [
    ['default tile', () => defaultMatmulTile(ctx.gpu)],
    ['plain tile', () => PLAIN_TILE],
  ];
  for (const [tileName, tile] of tiles) {
    for (const [transA, transB] of TRANSPOSES) {
      for (const [m, n, k] of SHAPES) {
        it(`${tileName}: [${m}, ${k}]${transA ? 'ᵀ' : ''} x [${k}, ${n}]${transB ? 'ᵀ' : ''}`, async () => {
          const r = rng(m * 10007 + n * 101 + k);
          const a = uniform(r, m * k);
          const b = uniform(r, k * n);
          const g: MatmulGeometry = { m, n, k, transA, transB };
          const got = await gpuMatmul(a, b, g, tile());
          const ref = K.matmul(ctx.cpu, Float64Array.from(a), Float64Array.from(b), g);
          // A sequential float32 sum of k products: error <= k * 2^-24 * sum |a_i b_i|; c = k is twice that.
          const mag = K.matmul(ctx.cpu, Float64Array.from(abs(a)), Float64Array.from(abs(b)), g);
          expectClose(got, ref, mag, k, 'C');
        });
      }
    }
  }

  it('k = 0 gives zeros', async () => {
    const got = await gpuMatmul(new Float32Array(0), new Float32Array(0), { m: 5, n: 6, k: 0, transA: false, transB: false }, defaultMatmulTile(ctx.gpu));
    expect(Array.from(got)).toEqual(new Array(30).fill(0));
  });

  it('rejects a buffer too small for the geometry, and a tile that cannot share A', () => {
    const small = ctx.gpu.alloc(4 * 4);
    expect(() => matmul(ctx.gpu, small, small, { m: 3, n: 3, k: 3, transA: false, transB: false })).toThrow(/too small/);
    expect(() => matmul(ctx.gpu, small, small, { m: 2, n: 2, k: 2, transA: false, transB: false }, { tm: 16, tn: 4, wgX: 8, wgY: 2, shareA: true })).toThrow(
      /wgY = 1/,
    );
  });
});

describe('matmul over more than 65535 workgroups (2-D dispatch grid)', () => {
  it('reaches the rows past the first grid row', async () => {
    const tile = defaultMatmulTile(ctx.gpu);
    const rowsPerGroup = tile.tm * tile.wgY;
    // n fits one workgroup's columns, so the workgroups are all along m: 65537 of them.
    const [n, k] = [5, 6];
    const m = rowsPerGroup * 65536 + 3;
    expect(Math.ceil(m / rowsPerGroup)).toBeGreaterThan(65535);
    const r = rng(11);
    const a = uniform(r, m * k);
    const b = uniform(r, k * n);
    const g: MatmulGeometry = { m, n, k, transA: false, transB: false };
    const { gpu } = ctx;
    const A = gpu.alloc(a.byteLength);
    const B = gpu.alloc(b.byteLength);
    gpu.write(A, a);
    gpu.write(B, b);
    const C = matmul(gpu, A, B, g, tile);
    const boundary = 65535 * rowsPerGroup;
    for (const row of [0, 1, boundary - 1, boundary, boundary + 1, m - 2, m - 1]) {
      const got = await gpu.readF32({ buffer: C.buffer, offset: C.offset + row * n * 4, size: n * 4 });
      const ar = Float64Array.from(a.subarray(row * k, (row + 1) * k));
      const one: MatmulGeometry = { m: 1, n, k, transA: false, transB: false };
      const ref = K.matmul(ctx.cpu, ar, Float64Array.from(b), one);
      const mag = K.matmul(ctx.cpu, Float64Array.from(ar, Math.abs), Float64Array.from(abs(b)), one);
      // As above: k sequential roundings.
      expectClose(got, ref, mag, k, `row ${row}`);
    }
  });
});

describe('matmul gradients', () => {
  it('finite differences on the reference (float64)', () => {
    const r = rng(21);
    const res = gradcheck((a, b) => F.matmul(a!, b!), [
      { values: uniform(r, 5 * 7), shape: [5, 7] },
      { values: uniform(r, 7 * 3), shape: [7, 3] },
    ]);
    expect(res.ok, res.detail).toBe(true);
  });

  it('GPU backward (transposed kernels) against the reference backward', async () => {
    const [m, n, k] = [13, 9, 21];
    const r = rng(22);
    const a = uniform(r, m * k);
    const b = uniform(r, k * n);
    const dy = uniform(r, m * n);
    const run = async (backend: typeof ctx.be | typeof ctx.cpu) =>
      readScoped(() => {
        const ta = Tensor.from(backend, a, [m, k], true);
        const tb = Tensor.from(backend, b, [k, n], true);
        F.matmul(ta, tb).backward(Tensor.from(backend, dy, [m, n]));
        return [ta.grad!, tb.grad!];
      });
    const [ga, gb] = await run(ctx.be);
    const [ra, rb] = await run(ctx.cpu);
    const absDy = Float64Array.from(abs(dy));
    // dA = dY Bᵀ sums n products, dB = Aᵀ dY sums m: that many roundings each.
    const magA = K.matmul(ctx.cpu, absDy, Float64Array.from(abs(b)), { m, n: k, k: n, transA: false, transB: true });
    const magB = K.matmul(ctx.cpu, Float64Array.from(abs(a)), absDy, { m: k, n, k: m, transA: true, transB: false });
    expectClose(ga!, ra!, magA, n, 'dA');
    expectClose(gb!, rb!, magB, m, 'dB');
  });
});

describe('bench matmul', () => {
  it('returns a well-formed result at size 64', async () => {
    const res = await benchMatmul(ctx.gpu, { size: 64, iterations: 3, time: 1 });
    expect(res).toMatchObject({ op: 'matmul', m: 64, n: 64, k: 64 });
    expect(res.samples).toBeGreaterThanOrEqual(3);
    for (const v of [res.medianMs, res.gflops]) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
  });
});
