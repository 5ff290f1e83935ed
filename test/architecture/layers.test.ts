// The staircase of ../shared/DESIGN.md as a check: every folder of src/ has a floor, and a file may
// import only from its own folder or from a lower floor. src/core (shapes, geometry, the vocabulary
// types) and src/util are the ground floor and import nothing else of the project; nothing in src/
// imports bench/, test/ or scripts/.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Each folder of src/ and its floor; folders of one floor may not import each other. */
const FLOORS: Record<string, number> = {
  core: 0,
  util: 0,
  gpu: 1,
  kernels: 2,
  backend: 3,
  autograd: 4,
  model: 5,
  data: 5,
  train: 6,
  report: 7,
  web: 7,
  bench: 7,
  export: 8,
  experiment: 8,
  label: 8,
  cli: 9,
  // src/index.ts, the package's entry: above everything.
  'index.ts': 10,
};

interface Edge {
  from: string;
  to: string;
}

/**
 * What a file imports, as TypeScript's own scanner reads it: imports and re-exports, type-only ones,
 * `import()` and `require()` (comments and strings that merely look like imports are not).
 */
function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Every relative import or re-export (static or dynamic) of the TypeScript files under `root`. */
function importEdges(root: string): Edge[] {
  const edges: Edge[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        for (const spec of importSpecifiers(readFileSync(path, 'utf8'))) {
          if (spec.startsWith('.')) edges.push({ from: relative('.', path), to: normalize(join(dirname(relative('.', path)), spec)) });
        }
      }
    }
  };
  walk(root);
  return edges;
}

/** The folder of src/ a path is in ('index.ts' for src/index.ts), or null outside src/. */
function folderOf(path: string): string | null {
  const parts = path.split('/');
  return parts[0] === 'src' ? parts[1]! : null;
}

/** The imports that break the staircase, one line each. */
function violations(edges: Edge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === null) continue;
    if (b === null) {
      out.push(`${from} imports ${to}, outside src/`);
      continue;
    }
    if (a === b) continue;
    const fa = FLOORS[a];
    const fb = FLOORS[b];
    if (fa === undefined || fb === undefined) {
      out.push(`${from} -> ${to}: the folder ${fa === undefined ? a : b} has no floor in this test (add it)`);
      continue;
    }
    if (fb >= fa) out.push(`${from} imports ${to}: ${a} (floor ${fa}) may import only lower floors, and ${b} is floor ${fb}`);
  }
  return out;
}

describe('the staircase', () => {
  const edges = importEdges('src');

  it('reads the project: hundreds of imports, every folder of src/ given a floor', () => {
    expect(edges.length).toBeGreaterThan(300);
    const folders = readdirSync('src').filter((n) => statSync(join('src', n)).isDirectory() || n.endsWith('.ts'));
    expect(folders.filter((f) => FLOORS[f] === undefined)).toEqual([]);
  });

  it('no file imports a higher floor, a folder of its own floor, or anything outside src/', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('reads every form of import, and not what only looks like one', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "import {\n  c, // it's a comment with a quote\n  d,\n} from './cd.js';",
      "export { e } from './e.js';",
      "export * from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      'const i = await import(`./i.js`);',
      "const j = require('./j.js');",
      "// import { k } from './k.js';",
      "const l = \"import { l } from './l.js'\";",
    ].join('\n');
    expect(importSpecifiers(text)).toEqual(['./a.js', '../b.js', './cd.js', './e.js', './f.js', './g.js', './h.js', './i.js', './j.js']);
  });

  it('sees an upward import, a sideways one and one into bench/', () => {
    const found = violations([
      { from: 'src/kernels/conv2d.ts', to: 'src/backend/backend.js' },
      { from: 'src/model/unet.ts', to: 'src/data/image.js' },
      { from: 'src/cli/bench.ts', to: 'bench/train.js' },
      { from: 'src/backend/webgpu/index.ts', to: 'src/kernels/conv2d.js' },
      { from: 'src/core/geometry.ts', to: 'src/core/types.js' },
    ]);
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/kernels \(floor 2\) may import only lower floors, and backend is floor 3/);
    expect(found[1]).toMatch(/model \(floor 5\) .* data is floor 5/);
    expect(found[2]).toMatch(/imports bench\/train\.js, outside src/);
  });
});
