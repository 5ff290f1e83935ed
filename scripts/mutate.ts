// `npm run mutate`: mutation testing of the backward kernels (not part of CI: it runs the kernel tests
// once per mutant). Backward shaders mark lines with a trailing comment
//     <code>  // MUTANT(kind): <replacement code>
// where kind is index (a wrong index), term (a dropped term) or stride (a swapped stride). One at a
// time, each line is replaced by its mutant and the tests of the kernel family that loads the shader
// run; a mutant must make them fail. Every backward shader must carry all three kinds, counting the
// marks of the files it pulls in with `#include` (a mark in an included file is tested through every
// shader that includes it). Naming shaders runs their marks and those of the files they include.
//
//   npm run mutate [-- --json] [-- shaders/foo.wgsl ...]
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const KINDS = ['index', 'term', 'stride'] as const;
const MARK = /^(\s*)(.*?)\s*\/\/\s*MUTANT\((index|term|stride)\):\s*(.+?)\s*$/;
/** Shader names that hold backward passes. */
const BACKWARD = /grad|backward/i;

interface Mutant {
  shader: string;
  line: number;
  kind: string;
  original: string;
  replacement: string;
}

interface Outcome extends Mutant {
  caught: boolean;
  tests: string[];
  seconds: number;
}

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const json = args.includes('--json');
const only = args.filter((a) => a.endsWith('.wgsl')).map((a) => basename(a));

const shaders = readdirSync(join(root, 'shaders')).filter((f) => f.endsWith('.wgsl')).sort();
const shaderLines = new Map(shaders.map((f) => [f, readFileSync(join(root, 'shaders', f), 'utf8').split('\n')]));
/** Shader file -> the files its `#include` lines name (as src/gpu/pipelines.ts expands them). */
const includes = new Map(
  shaders.map((f) => [f, shaderLines.get(f)!.flatMap((l) => /^[ \t]*#include\s+"([^"]+)"/.exec(l)?.[1] ?? [])]),
);

/** `shader` and every file it includes, directly or through other includes. */
function reachable(shader: string, seen = new Set<string>()): Set<string> {
  if (seen.has(shader)) return seen;
  seen.add(shader);
  for (const inc of includes.get(shader) ?? []) reachable(inc, seen);
  return seen;
}

/**
 * The tests of a kernel module are test/kernels/STEM*.test.ts, STEM its file's name, or for the conv
 * family's files (src/kernels/conv/) the kernel's.
 */
const TEST_STEMS: Record<string, string> = { 'conv/forward': 'conv2d', 'conv/winograd': 'conv2d', 'conv/input-grad': 'conv2dInputGrad', 'conv/weight-grad': 'conv2dWeightGrad' };

/** The kernel modules: src/kernels/*.ts and its folders' files, relative to src/kernels/. */
function kernelModules(dir = ''): string[] {
  return readdirSync(join(root, 'src/kernels', dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    return e.isDirectory() ? kernelModules(rel) : e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** Shader file -> the test files of the kernel modules that load it, or a shader that includes it. */
function testsForShader(shader: string): string[] {
  const loaders = shaders.filter((f) => reachable(f).has(shader));
  const tests = new Set<string>();
  for (const f of kernelModules()) {
    const text = readFileSync(join(root, 'src/kernels', f), 'utf8');
    if (!loaders.some((l) => text.includes(`'${l}'`) || text.includes(`"${l}"`) || text.includes(`\`${l}\``))) continue;
    const module = f.replace(/\.ts$/, '');
    const stem = TEST_STEMS[module] ?? module;
    for (const t of readdirSync(join(root, 'test/kernels'))) {
      if (t.startsWith(stem) && t.endsWith('.test.ts')) tests.add(join('test/kernels', t));
    }
  }
  return [...tests];
}

function marksOf(shader: string): Mutant[] {
  return (shaderLines.get(shader) ?? []).flatMap((text, i) => {
    const m = MARK.exec(text);
    return m ? [{ shader, line: i + 1, kind: m[3]!, original: m[2]!, replacement: m[1]! + m[4]! }] : [];
  });
}

function findMutants(): { mutants: Mutant[]; missing: string[] } {
  const missing: string[] = [];
  const selected = new Set<string>();
  for (const shader of shaders) {
    if (only.length && !only.includes(shader)) continue;
    const files = reachable(shader);
    for (const f of files) selected.add(f);
    if (!BACKWARD.test(shader)) continue;
    const kinds = new Set([...files].flatMap((f) => marksOf(f).map((m) => m.kind)));
    for (const k of KINDS) if (!kinds.has(k)) missing.push(`${shader}: no ${k} mutant`);
  }
  return { mutants: shaders.filter((f) => selected.has(f)).flatMap(marksOf), missing };
}

function runMutant(m: Mutant): Outcome {
  const path = join(root, 'shaders', m.shader);
  const saved = readFileSync(path, 'utf8');
  const tests = testsForShader(m.shader);
  const start = Date.now();
  if (tests.length === 0) return { ...m, caught: false, tests, seconds: 0 };
  const lines = saved.split('\n');
  lines[m.line - 1] = m.replacement;
  writeFileSync(path, lines.join('\n'));
  try {
    const r = spawnSync('npx', ['vitest', 'run', '--reporter=dot', ...tests], { cwd: root, encoding: 'utf8' });
    return { ...m, caught: r.status !== 0, tests, seconds: (Date.now() - start) / 1000 };
  } finally {
    writeFileSync(path, saved);
  }
}

const { mutants, missing } = findMutants();
// spawnSync blocks, so an interrupt is handled only after runMutant's finally has restored the shader.
process.on('SIGINT', () => process.exit(130));
// The tests must pass on the unmutated shaders first: otherwise every mutant counts as caught (a shader
// that does not compile once made 6 of 6 look caught).
const baseline = [...new Set(mutants.flatMap((m) => testsForShader(m.shader)))];
if (baseline.length > 0) {
  const r = spawnSync('npx', ['vitest', 'run', '--reporter=dot', ...baseline], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`mutate: the tests fail without any mutant (${baseline.join(' ')}); fix them first:\n${(r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n')}`);
    process.exit(2);
  }
}
const outcomes: Outcome[] = [];
for (const m of mutants) {
  const o = runMutant(m);
  outcomes.push(o);
  if (!json) {
    const verdict = o.tests.length === 0 ? 'NO TESTS' : o.caught ? 'caught' : 'SURVIVED';
    console.log(`${verdict.padEnd(8)} ${m.shader}:${m.line} ${m.kind.padEnd(6)} ${o.seconds.toFixed(0)} s`);
  }
}
const caught = outcomes.filter((o) => o.caught).length;
const summary = { mutants: outcomes.length, caught, survived: outcomes.length - caught, missing, outcomes };
if (json) console.log(JSON.stringify(summary));
else {
  for (const m of missing) console.log(`missing: ${m}`);
  console.log(`mutants: ${caught} of ${outcomes.length} caught${missing.length ? `, ${missing.length} annotation(s) missing` : ''}`);
}
process.exit(summary.survived === 0 && missing.length === 0 && outcomes.length > 0 ? 0 : 1);
