import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shaderSource, pipelineKey } from '../../src/gpu/pipelines.js';
import { grid1d } from '../../src/gpu/gpu.js';
import { Uniforms } from '../../src/gpu/uniforms.js';
import { sizeClass } from '../../src/gpu/pool.js';
import { useGpu } from '../helpers.js';

const ctx = useGpu();

describe('device', () => {
  it('runs on the CPU Vulkan driver in CI, with the adapter limits requested', () => {
    const s = ctx.gpu.summary;
    expect(s.description.length).toBeGreaterThan(0);
    if (process.env.CI === 'true') {
      // CI has no GPU: the suite must have run its kernels on lavapipe (or, by choice, SwiftShader).
      expect(s.software, `adapter in CI: ${s.description}`).toBe(true);
      expect(s.description).toMatch(/llvmpipe|lavapipe|swiftshader/i);
    }
    // The device got the adapter's limits, not WebGPU's defaults.
    expect(ctx.gpu.limits.maxStorageBufferBindingSize).toBe(s.limits.maxStorageBufferBindingSize);
    expect(ctx.gpu.limits.maxBufferSize).toBe(s.limits.maxBufferSize);
    expect(ctx.gpu.limits.maxStorageBuffersPerShaderStage).toBe(s.limits.maxStorageBuffersPerShaderStage);
  });

  it('turns a WebGPU validation error into a thrown Error that names the kernel', async () => {
    const x = ctx.gpu.alloc(64);
    // unary.wgsl expects two storage buffers; binding one is a validation error at dispatch.
    ctx.gpu.dispatch({
      kernel: 'deliberately-broken',
      shader: 'unary.wgsl',
      defines: { EXPR: 'x' },
      uniforms: new ArrayBuffer(16),
      buffers: [x],
      workgroups: [1],
    });
    await expect(ctx.gpu.sync()).rejects.toThrow(/deliberately-broken/);
    ctx.gpu.release(x);
  });

  it('refuses a dispatch larger than the grid limit before recording it', () => {
    const x = ctx.gpu.alloc(64);
    expect(() =>
      ctx.gpu.dispatch({ kernel: 'too-big', shader: 'fill.wgsl', uniforms: new ArrayBuffer(16), buffers: [x], workgroups: [70000] }),
    ).toThrow(/too-big.*65535/);
    ctx.gpu.release(x);
  });

  it('reuses pooled buffers and counts peaks', () => {
    const before = ctx.gpu.pool.getStats();
    const a = ctx.gpu.alloc(1000);
    ctx.gpu.release(a);
    const b = ctx.gpu.alloc(1000);
    expect(b.buffer).toBe(a.buffer);
    ctx.gpu.release(b);
    const after = ctx.gpu.pool.getStats();
    expect(after.created - before.created).toBeLessThanOrEqual(1);
    expect(after.peakInUseBytes).toBeGreaterThanOrEqual(1024);
    expect(() => ctx.gpu.release(b)).toThrow(/released twice/);
  });
});

describe('uniform cache', () => {
  it('stays bounded when every dispatch brings new scalars, and evicted buffers are not used after', async () => {
    const out = ctx.gpu.alloc(4 * 64);
    const fills = 4200; // more than the cache holds
    for (let i = 0; i < fills; i++) {
      ctx.gpu.dispatch({ kernel: 'fill', shader: 'fill.wgsl', uniforms: new Uniforms().u32(64).f32(i).bytes(), buffers: [out], workgroups: [1] });
    }
    const values = await ctx.gpu.readF32(out);
    expect(values[63]).toBe(fills - 1);
    expect(ctx.gpu.cachedUniforms).toBeLessThanOrEqual(4096);
    ctx.gpu.release(out);
  });
});

describe('pure helpers', () => {
  it('hands out the oldest free buffer of a size, whatever order they came back in', () => {
    const pool = ctx.gpu.pool;
    const bytes = 12_345 * 4; // a size class no other test uses
    const [a, b, c] = [pool.acquire(bytes), pool.acquire(bytes), pool.acquire(bytes)];
    for (const order of [[b, a, c], [c, b, a], [a, c, b]]) {
      for (const buffer of order) pool.release(buffer!);
      // The same set of free buffers gives the same allocations, so a loop's bind groups repeat.
      expect([pool.acquire(bytes), pool.acquire(bytes), pool.acquire(bytes)]).toEqual([a, b, c]);
    }
    for (const buffer of [a, b, c]) pool.release(buffer!);
  });

  it('size classes waste at most a quarter', () => {
    for (const bytes of [1, 255, 257, 4096, 70_000, 1e6, 123_456_789]) {
      const c = sizeClass(bytes);
      expect(c).toBeGreaterThanOrEqual(bytes);
      expect(c).toBeLessThanOrEqual(Math.max(256, bytes * 1.25 + 256));
    }
  });

  it('grids stay under 65535 per dimension and cover every invocation', () => {
    for (const n of [1, 255, 256 * 65535, 256 * 65535 + 1, 17_000_000, 300_000_000]) {
      const [x, y] = grid1d(n, 256);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y * 256).toBeGreaterThanOrEqual(n);
    }
  });

  it('pipeline keys come from the specialisation, in any order', () => {
    expect(pipelineKey('a.wgsl', 'main', { X: 1, Y: true })).toBe(pipelineKey('a.wgsl', 'main', { Y: true, X: 1 }));
    expect(pipelineKey('a.wgsl', 'main', { X: 1 })).not.toBe(pipelineKey('a.wgsl', 'main', { X: 2 }));
  });

  it('specialises shaders and refuses a missing constant', () => {
    expect(shaderSource('binary.wgsl', { EXPR: 'a * b', BROADCAST: false })).toContain('return a * b;');
    expect(shaderSource('binary.wgsl', { EXPR: 'a * b', BROADCAST: false })).not.toContain('aStrides[d');
    expect(() => shaderSource('binary.wgsl', { EXPR: 'a' })).toThrow(/BROADCAST/);
  });
});

describe('Dawn instance lifetime', () => {
  // Regression: when the object returned by create() was garbage-collected under a live device, Dawn
  // crashed inside InstanceBase::ProcessEvents during long synchronous loops. The child forces GC
  // while a device runs work and must exit cleanly.
  it('survives forced garbage collection during long synchronous loops', () => {
    const script = `
      import { Gpu } from './src/gpu/gpu.ts';
      import { setHost } from './src/gpu/host.ts';
      import { nodeHost } from './src/gpu/node-host.ts';
      import { Uniforms } from './src/gpu/uniforms.ts';
      setHost(nodeHost);
      import { liveInstanceCount } from './src/gpu/dawn.ts';
      const gpu = await Gpu.open();
      const buf = gpu.alloc(4096);
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 50; i++) {
          gpu.dispatch({ kernel: 'fill', shader: 'fill.wgsl', uniforms: new Uniforms().u32(1024).f32(1).bytes(), buffers: [buf], workgroups: [4] });
        }
        gpu.flush();
        let junk = 0;
        for (let i = 0; i < 2e6; i++) junk += Math.sqrt(i);
        globalThis.gc();
        await gpu.read(buf);
      }
      if (liveInstanceCount() < 1) throw new Error('instance not held');
      console.log('ok');
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('ok');
  });
});
