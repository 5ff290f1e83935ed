// The staircase of ../shared/DESIGN.md as a check: every folder of src/ has a floor, and a file may
// import only from its own folder or from a lower floor. src/core (shapes, geometry, the vocabulary
// types) and src/util are the ground floor and import nothing else of the project; nothing in src/
// imports bench/, test/ or scripts/.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Edge, folderOf, importEdges, importSpecifiers } from './imports.js';

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
  // A run on disk (options, run folder, lock, checkpoints) below evaluation (which reads run folders)
  // below training proper (whose loop writes both).
  run: 6,
  // Tuning the kernels on the model's layers; the one way up to the kernels for the CLI and src/measure.
  tune: 6,
  evaluate: 7,
  train: 8,
  report: 9,
  web: 9,
  measure: 9,
  export: 10,
  experiment: 10,
  label: 10,
  cli: 11,
  // src/index.ts, the package's entry: above everything.
  'index.ts': 12,
};

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
      { from: 'src/kernels/conv/forward.ts', to: 'src/backend/backend.js' },
      { from: 'src/model/unet.ts', to: 'src/data/image.js' },
      { from: 'src/cli/bench.ts', to: 'bench/train.js' },
      { from: 'src/backend/webgpu/index.ts', to: 'src/kernels/conv/forward.js' },
      { from: 'src/core/geometry.ts', to: 'src/core/types.js' },
      { from: 'src/run/checkpoint.ts', to: 'src/train/optimizer.js' },
    ]);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/kernels \(floor 2\) may import only lower floors, and backend is floor 3/);
    expect(found[1]).toMatch(/model \(floor 5\) .* data is floor 5/);
    expect(found[2]).toMatch(/imports bench\/train\.js, outside src/);
    expect(found[3]).toMatch(/run \(floor 6\) may import only lower floors, and train is floor 8/);
  });
});
