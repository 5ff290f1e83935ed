// The import graph of src/ as the architecture tests read it (layers.test.ts, cycles.test.ts): every
// relative import, re-export, type-only import, import() and require() of each TypeScript file, as an
// edge from the importing file to the imported one.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

export interface Edge {
  from: string;
  to: string;
}

/**
 * What a file imports, as TypeScript's own scanner reads it: imports and re-exports, type-only ones,
 * `import()` and `require()` (comments and strings that merely look like imports are not).
 */
export function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Every TypeScript file under `root`, as a path relative to the working folder. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(relative('.', path));
  }
  return out;
}

/** Every relative import or re-export (static or dynamic) of the TypeScript files under `root`. */
export function importEdges(root: string): Edge[] {
  const edges: Edge[] = [];
  for (const path of sourceFiles(root)) {
    for (const spec of importSpecifiers(readFileSync(path, 'utf8'))) {
      if (spec.startsWith('.')) edges.push({ from: path, to: normalize(join(dirname(path), spec)) });
    }
  }
  return edges;
}

/** The source file an edge's target names: `x.js` is `x.ts`. */
export function sourceOf(to: string): string {
  return to.replace(/\.js$/, '.ts');
}

/** The folder of src/ a path is in ('index.ts' for src/index.ts), or null outside src/. */
export function folderOf(path: string): string | null {
  const parts = path.split('/');
  return parts[0] === 'src' ? parts[1]! : null;
}
