// One op, four places (docs/architecture.md): in a scratch copy of src/ and shaders/, add a made-up
// unary op (softsign, on the unary kernel) and then a made-up primitive op with its own shader (cube),
// each by the edits a contributor would make, and count the files they touch besides a test. The copy
// must then type-check as a whole, and both ops must run forward and backward on the CPU reference and
// on the GPU, agree, and pass the finite-difference check. Leaving out a piece (the unary op's CPU
// reference) must not compile: the typed checks that an op is complete still hold.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const tsc = join(root, 'node_modules/.bin/tsc');

type Edit = { file: string; after: string; insert: string } | { file: string; create: string };

/** softsign(x) = x / (1 + |x|), and its derivative 1 / (1 + |x|)^2, as two functions of the unary kernel. */
const SOFTSIGN: Edit[] = [
  { file: 'src/kernels/elementwise.ts', after: "  scale: 'alpha * x',\n", insert: "  softsign: 'x / (1.0 + abs(x))',\n  softsignGrad: '1.0 / ((1.0 + abs(x)) * (1.0 + abs(x)))',\n" },
  {
    file: 'src/backend/cpu/elementwise.ts',
    after: 'const UNARY: Record<UnaryOp, (x: number) => number> = {\n',
    insert: '  softsign: (x) => x / (1 + Math.abs(x)),\n  softsignGrad: (x) => 1 / (1 + Math.abs(x)) ** 2,\n',
  },
  {
    file: 'src/autograd/ops.ts',
    after: 'export const opRules = {\n',
    insert: `  softsign: rule({
    kernels: [K.unary, K.binary],
    forward: ([x]) => ({ data: K.unary(x!.backend, 'softsign', x!.data, x!.size), shape: x!.shape }),
    backward: (dy, [x]) => [binaryOf('mul', dy, wrap(dy, K.unary(dy.backend, 'softsignGrad', x!.data, x!.size), x!.shape))],
  }),
`,
  },
];

/** cube(x) = x^3 with its own shader (forward, and dy * 3x^2 when BACKWARD), kernel module, reference and entry. */
const CUBE: Edit[] = [
  {
    file: 'shaders/cube.wgsl',
    create: `// out = x^3, or dy * 3 x^2 when BACKWARD: a made-up op (test/architecture/new-op.test.ts).
#include "scalar_params.inc.wgsl"

@group(0) @binding(1) var<storage, read> X: array<f32>;
#if \${BACKWARD}
@group(0) @binding(2) var<storage, read> Dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
#endif

#include "elementwise_main.inc.wgsl"

fn element(i: u32) {
  let x = X[i];
#if \${BACKWARD}
  Out[i] = 3.0 * x * x * Dy[i];
#else
  Out[i] = x * x * x;
#endif
}
`,
  },
  {
    file: 'src/kernels/cube.ts',
    create: `// cube: x^3 and its backward. Shader: shaders/cube.wgsl.
import { type BufferRef, type Gpu, Uniforms, grid1d } from '../gpu/gpu.js';

export function cube(gpu: Gpu, x: BufferRef, size: number, dy: BufferRef | null = null): BufferRef {
  const out = gpu.alloc(size * 4, 'cube');
  gpu.dispatch({
    kernel: dy ? 'cubeBackward' : 'cube',
    shader: 'cube.wgsl',
    defines: { BACKWARD: dy !== null },
    uniforms: new Uniforms(4).u32(size).f32(0).bytes(),
    buffers: dy ? [x, dy, out] : [x, out],
    workgroups: grid1d(size, 256),
  });
  return out;
}
`,
  },
  {
    file: 'src/backend/cpu/cube.ts',
    create: `// CPU reference: cube and its backward.
export const cube = (x: Float64Array, size: number): Float64Array => x.slice(0, size).map((v) => v ** 3);
export const cubeBackward = (x: Float64Array, dy: Float64Array, size: number): Float64Array =>
  x.slice(0, size).map((v, i) => 3 * v * v * dy[i]!);
`,
  },
  {
    file: 'src/autograd/ops.ts',
    after: "import * as K from '../backend/kernels.js';\n",
    insert: `import { type St, kernel } from '../backend/kernel.js';
import * as cpuCube from '../backend/cpu/cube.js';
import { cube as gpuCube } from '../kernels/cube.js';

const cube = kernel<[x: St, size: number], St>({ id: 'cube', cpu: cpuCube.cube, webgpu: ({ gpu }, x, size) => gpuCube(gpu, x, size) });
const cubeBackward = kernel<[x: St, dy: St, size: number], St>({
  id: 'cubeBackward', cpu: cpuCube.cubeBackward, webgpu: ({ gpu }, x, dy, size) => gpuCube(gpu, x, size, dy),
});
`,
  },
  {
    file: 'src/autograd/ops.ts',
    after: 'export const opRules = {\n',
    insert: `  cube: rule({
    kernels: [cube, cubeBackward],
    forward: ([x]) => ({ data: cube(x!.backend, x!.data, x!.size), shape: x!.shape }),
    backward: (dy, [x]) => [wrap(dy, cubeBackward(dy.backend, x!.data, dy.data, dy.size), dy.shape)],
  }),
`,
  },
];

/** Runs both ops on the CPU reference and the GPU and checks their gradients; prints one JSON line. */
const CHECK = `import { apply } from './src/autograd/apply.js';
import { gradcheck } from './src/autograd/gradcheck.js';
import { Tensor } from './src/autograd/tensor.js';
import { CpuBackend } from './src/backend/cpu/index.js';
import { WebGpuBackend } from './src/backend/webgpu/index.js';
import { Gpu } from './src/gpu/gpu.js';
import { setHost } from './src/gpu/host.js';
import { nodeHost } from './src/gpu/node-host.js';

setHost(nodeHost);
const xs = [-2.5, -1, -0.3, 0.1, 0.4, 1.7, 3];
const dys = [1, -2, 0.5, 3, -1, 0.25, 2];
const gpu = await Gpu.open();
const out = {};
for (const op of ['softsign', 'cube']) {
  const run = async (be) => {
    const x = Tensor.from(be, xs, [xs.length], true);
    const y = apply(op, [x], {});
    y.backward(Tensor.from(be, dys, [dys.length]));
    return { y: [...(await y.toArray())], dx: [...(await x.grad.toArray())] };
  };
  const check = gradcheck((x) => apply(op, [x], {}), [{ values: xs, shape: [xs.length] }]);
  out[op] = { cpu: await run(new CpuBackend()), gpu: await run(new WebGpuBackend(gpu)), gradcheck: check.ok };
}
gpu.destroy();
console.log(JSON.stringify(out));
`;

function filesOf(dir: string, base = dir): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) for (const [k, v] of filesOf(p, base)) out.set(k, v);
    else out.set(relative(base, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return out;
}

function touched(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([f, h]) => before.get(f) !== h).map(([f]) => f).sort();
}

function apply(dir: string, edits: Edit[]): void {
  for (const e of edits) {
    const p = join(dir, e.file);
    if ('create' in e) {
      writeFileSync(p, e.create);
      continue;
    }
    const text = readFileSync(p, 'utf8');
    const at = text.indexOf(e.after);
    if (at < 0) throw new Error(`${e.file}: the anchor ${JSON.stringify(e.after)} is gone; update this test's edits`);
    writeFileSync(p, text.slice(0, at + e.after.length) + e.insert + text.slice(at + e.after.length));
  }
}

function typecheck(dir: string, files?: string[]): { ok: boolean; output: string } {
  const config = { extends: './tsconfig.json', compilerOptions: { noEmit: true }, ...(files ? { files } : { include: ['src/**/*.ts', 'types/**/*.d.ts'] }) };
  writeFileSync(join(dir, 'tsconfig.check.json'), JSON.stringify(config));
  const r = spawnSync(tsc, ['-p', join(dir, 'tsconfig.check.json')], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** A scratch copy of what compiles and runs: src/, shaders/, types/ and the configs, node_modules linked. */
function scratchCopy(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const f of ['src', 'shaders', 'types', 'tsconfig.json', 'package.json']) cpSync(join(root, f), join(dir, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  // Where scripts/install-lavapipe.sh put the CPU Vulkan driver (src/gpu/dawn.ts looks beside src/).
  if (existsSync(join(root, '.vulkan'))) symlinkSync(join(root, '.vulkan'), join(dir, '.vulkan'));
  return dir;
}

const scratch = scratchCopy('gpuseg-new-op-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a new op touches four files', () => {
  const start = filesOf(scratch);

  it('a unary op without its CPU reference does not compile', () => {
    const partial = scratchCopy('gpuseg-new-op-partial-');
    try {
      apply(partial, SOFTSIGN.filter((e) => e.file !== 'src/backend/cpu/elementwise.ts'));
      const r = typecheck(partial, ['src/backend/cpu/elementwise.ts']);
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/softsign/);
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  }, 120_000);

  it('softsign (unary) touches 3 files and cube (own shader) 4, and the copy type-checks', () => {
    apply(scratch, SOFTSIGN);
    const afterSoftsign = filesOf(scratch);
    expect(touched(start, afterSoftsign)).toEqual(['src/autograd/ops.ts', 'src/backend/cpu/elementwise.ts', 'src/kernels/elementwise.ts']);
    apply(scratch, CUBE);
    const afterCube = filesOf(scratch);
    expect(touched(afterSoftsign, afterCube)).toEqual(['shaders/cube.wgsl', 'src/autograd/ops.ts', 'src/backend/cpu/cube.ts', 'src/kernels/cube.ts']);
    const r = typecheck(scratch);
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  }, 300_000);

  it('both run forward and backward on the CPU and the GPU, agree, and pass the gradient check', () => {
    writeFileSync(join(scratch, 'check.mts'), CHECK);
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', join(scratch, 'check.mts')], { cwd: scratch, encoding: 'utf8' });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, { cpu: { y: number[]; dx: number[] }; gpu: { y: number[]; dx: number[] }; gradcheck: boolean }>;
    const xs = [-2.5, -1, -0.3, 0.1, 0.4, 1.7, 3];
    const dys = [1, -2, 0.5, 3, -1, 0.25, 2];
    const expected = {
      softsign: { y: xs.map((x) => x / (1 + Math.abs(x))), dx: xs.map((x, i) => dys[i]! / (1 + Math.abs(x)) ** 2) },
      cube: { y: xs.map((x) => x ** 3), dx: xs.map((x, i) => 3 * x * x * dys[i]!) },
    };
    for (const op of ['softsign', 'cube'] as const) {
      expect(out[op]!.gradcheck).toBe(true);
      for (const side of ['cpu', 'gpu'] as const) {
        const tol = side === 'cpu' ? 1e-12 : 1e-5;
        out[op]![side].y.forEach((v, i) => expect(Math.abs(v - expected[op].y[i]!)).toBeLessThan(tol * (1 + Math.abs(expected[op].y[i]!))));
        out[op]![side].dx.forEach((v, i) => expect(Math.abs(v - expected[op].dx[i]!)).toBeLessThan(tol * (1 + Math.abs(expected[op].dx[i]!))));
      }
    }
  }, 120_000);
});
