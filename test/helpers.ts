// Shared test helpers: one GPU device per test file, the CPU reference, and tolerances derived from
// the computation rather than picked by hand.
import { afterAll, beforeAll, expect, vi } from 'vitest';
import { type Tensor, scope } from '../src/autograd/index.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { type BufferRef, type Dispatch, Gpu } from '../src/gpu/gpu.js';

/** float32 unit roundoff. */
export const U32 = 2 ** -23;

export interface GpuContext {
  gpu: Gpu;
  be: WebGpuBackend;
  cpu: CpuBackend;
}

/**
 * Opens one device for the whole file (closed after it). With no adapter this throws, so the tests
 * fail rather than skip: the suite can never pass without running kernels.
 */
export function useGpu(): GpuContext {
  const ctx = { cpu: new CpuBackend() } as GpuContext;
  beforeAll(async () => {
    ctx.gpu = await Gpu.open();
    ctx.be = new WebGpuBackend(ctx.gpu);
  });
  afterAll(() => {
    ctx.gpu?.destroy();
  });
  return ctx;
}

/**
 * Asserts |actual - expected| <= c * 2^-23 * magnitude + floor, elementwise, where magnitude[i] is the
 * sum of |terms| that made expected[i] (compute it with the reference on |inputs|) and c the number of
 * roundings on the way (about the length of the longest sequential sum, or its log for a tree).
 * On failure the message names the worst element.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  magnitude: ArrayLike<number> | number,
  c: number,
  what = 'result',
  floor = 1e-30,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < expected.length; i++) {
    const mag = typeof magnitude === 'number' ? magnitude : magnitude[i]!;
    const tol = c * U32 * mag + floor;
    const err = Math.abs(actual[i]! - expected[i]!);
    const ratio = Number.isNaN(err) ? Infinity : err / tol;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worstRatio > 1) {
    const mag = typeof magnitude === 'number' ? magnitude : magnitude[worst]!;
    expect.fail(
      `${what}: element ${worst} is ${actual[worst]}, reference ${expected[worst]} ` +
        `(error ${Math.abs(actual[worst]! - expected[worst]!)} > tolerance ${c} * 2^-23 * ${mag}; ${worstRatio.toFixed(1)}x over)`,
    );
  }
}

export function abs(values: ArrayLike<number>): Float32Array {
  return Float32Array.from(values, Math.abs);
}

/** The dispatches `gpu` records while `f` runs (a spy on Gpu.dispatch), for tests of which variant ran. */
export async function recordDispatches(gpu: Gpu, f: () => Promise<void>): Promise<Dispatch[]> {
  const dispatch = vi.spyOn(gpu, 'dispatch');
  try {
    await f();
    return dispatch.mock.calls.map(([d]: [Dispatch]) => d);
  } finally {
    dispatch.mockRestore();
  }
}

/**
 * `x` uploaded `slots` binding-offset steps into a NaN-filled buffer, so its binding starts at a nonzero
 * offset (and a kernel that reads the padding instead shows it). A step is the adapter's own
 * minStorageBufferOffsetAlignment: 16 bytes on lavapipe, 256 on SwiftShader, D3D12 and most discrete GPUs.
 */
export function uploadAt(be: WebGpuBackend, x: ArrayLike<number>, slots: number): BufferRef {
  const pad = (slots * be.gpu.limits.minStorageBufferOffsetAlignment) / 4;
  const padded = new Float32Array(pad + x.length).fill(Number.NaN);
  padded.set(Array.from(x), pad);
  const whole = be.upload(padded);
  return { buffer: whole.buffer, offset: whole.offset + pad * 4, size: x.length * 4 };
}

/**
 * Runs `fn` in a (synchronous) scope, so that every intermediate it creates is freed when it returns,
 * then reads back the tensors it returned and frees them too.
 */
export async function readScoped(fn: () => Tensor[]): Promise<Float64Array[]> {
  const kept = scope(fn);
  try {
    return await Promise.all(kept.map((t) => t.toArray()));
  } finally {
    for (const t of kept) t.dispose();
  }
}
