import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TUNING_FORMAT } from '../../src/gpu/tuning.js';
import { gpuseg } from './gpuseg.js';

describe('gpuseg info', () => {
  it('--json names the adapter, its backend, limits and features', () => {
    const r = gpuseg(['info', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // clean: Dawn's limit notices are filtered (src/gpu/native-stderr.ts)
    const info = JSON.parse(r.stdout);
    expect(typeof info.adapter).toBe('string');
    expect(info.adapter.length).toBeGreaterThan(0);
    expect(info.backend).toMatch(/vulkan|metal|d3d12|d3d11|opengl|opengles/);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    for (const f of ['shader-f16', 'timestamp-query', 'subgroups']) expect(typeof info.features[f]).toBe('boolean');
    if (process.env.CI === 'true') expect(info.adapter).toMatch(/llvmpipe|lavapipe|swiftshader/i);
  });

  it("--json names this adapter's tuning file and how many entries it holds", () => {
    const cache = mkdtempSync(join(tmpdir(), 'gpuseg-info-'));
    const none = JSON.parse(gpuseg(['info', '--json'], { GPUSEG_CACHE_DIR: cache }).stdout);
    expect(none.tuning.file.startsWith(cache)).toBe(true);
    expect(none.tuning.entries).toBe(0);
    writeFileSync(none.tuning.file, JSON.stringify({ format: TUNING_FORMAT, adapter: 'another gpu', entries: {} }));
    const foreign = JSON.parse(gpuseg(['info', '--json'], { GPUSEG_CACHE_DIR: cache }).stdout);
    expect(foreign.tuning.problem).toMatch(/not a tuning file/);
    writeFileSync(none.tuning.file, JSON.stringify({ format: TUNING_FORMAT - 1, adapter: 'another gpu', entries: {} }));
    const older = JSON.parse(gpuseg(['info', '--json'], { GPUSEG_CACHE_DIR: cache }).stdout);
    expect(older.tuning.problem).toMatch(/written by an older gpuseg .*run `gpuseg tune` again/);
    const off = JSON.parse(gpuseg(['info', '--json'], { GPUSEG_CACHE_DIR: cache, GPUSEG_TUNING: 'off' }).stdout);
    expect(off.tuning).toMatchObject({ entries: 0, off: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it('exits 2 with a one-line hint that lists the adapters there are when none matches', () => {
    const r = gpuseg(['info', '--adapter', 'no-such-adapter-xyz']);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('gpuseg:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no WebGPU adapter matches \(--adapter no-such-adapter-xyz\); this machine has '.+' \(vulkan\)/);
    expect(lines[0]).not.toMatch(/install-lavapipe/); // a driver is there: the name was wrong
    expect(r.stderr.trim()).toBe(lines[0]); // nothing else: no Dawn notices
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('names the flag on a bad value', () => {
    const r = gpuseg(['bench', 'matmul', '--size', 'big']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--size must be a positive integer, got 'big'/);
  });
});

// SwiftShader, the second CPU Vulkan driver, comes with Debian's chromium (installed by the test command).
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

describe('adapter names on a machine with two drivers', () => {
  it('--adapter matches without regard to case, and info lists the word that selects each adapter', () => {
    const env = { VK_ADD_DRIVER_FILES: SWIFTSHADER_ICD };
    for (const name of ['swiftshader', 'SWIFTSHADER', 'SwiftShader']) {
      const r = gpuseg(['info', '--json', '--adapter', name], env);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).adapter).toMatch(/swiftshader/i);
    }
    const lavapipe = JSON.parse(gpuseg(['info', '--json', '--adapter', 'LLVMPIPE'], env).stdout);
    expect(lavapipe.adapter).toMatch(/llvmpipe/);
    const words = (lavapipe.available as { name: string; select: string }[]).map((a) => [a.name.split(' ')[0], a.select]);
    expect(words).toEqual(expect.arrayContaining([['SwiftShader', 'swiftshader'], ['llvmpipe', 'llvmpipe']]));
    const text = gpuseg(['info'], env).stdout;
    expect(text).toMatch(/SwiftShader Device \(Subzero\) \(vulkan\): --adapter swiftshader/);
    expect(text).toMatch(/llvmpipe .*\(vulkan\): --adapter llvmpipe/);
  });
});
