// The platform src/gpu/ runs on is chosen in code (src/gpu/host.ts setHost), not swapped by the bundler:
// the page's entry chooses the web host, Node's entries the Node host, and following the page's imports
// from src/web/page.ts reaches neither the Node host nor anything of Node (node:*, Dawn, koffi), so the
// page's bundle can be built from the same modules the CLI runs.
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { type Edge, sourceFiles, sourceOf } from './imports.js';

const PAGE = 'src/web/page.ts';
const NODE_HOST = 'src/gpu/node-host.ts';
/** Packages that exist only in Node: Dawn's bindings and the FFI it loads them with. */
const NODE_PACKAGES = ['webgpu', 'koffi'];

/**
 * What a file imports at run time, as the bundler sees it: imports and re-exports that are not type-only
 * (`import type`, `export type`, or every named binding marked `type`), and `import()`.
 */
export function valueSpecifiers(text: string): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const bindings = c?.namedBindings;
      const typeOnly = c !== undefined && (c.isTypeOnly || (!c.name && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, false));
  return out;
}

/** The run-time imports between the files under `root` (layers.test.ts reads type-only ones too). */
function valueEdges(root: string): Edge[] {
  return sourceFiles(root).flatMap((from) =>
    valueSpecifiers(readFileSync(from, 'utf8'))
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ from, to: normalize(join(dirname(from), spec)) })),
  );
}

/** Every file reachable from `entry` over `edges`, the entry included. */
export function reachable(entry: string, edges: readonly Edge[]): Set<string> {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), sourceOf(to)]);
  const seen = new Set([entry]);
  const todo = [entry];
  while (todo.length > 0) {
    for (const to of next.get(todo.pop()!) ?? []) {
      if (!seen.has(to)) {
        seen.add(to);
        todo.push(to);
      }
    }
  }
  return seen;
}

/** What in the page's graph is Node's: the Node host, and each import of a Node-only module. */
function nodeInPage(files: Iterable<string>, text: (file: string) => string): string[] {
  const out: string[] = [];
  for (const file of files) {
    if (file === NODE_HOST) out.push(`${file} (the Node host)`);
    for (const spec of valueSpecifiers(text(file))) {
      if (spec.startsWith('node:') || NODE_PACKAGES.includes(spec)) out.push(`${file} imports ${spec}`);
    }
  }
  return out;
}

describe('the platform, chosen in code', () => {
  const edges = valueEdges('src');
  const read = (file: string) => readFileSync(file, 'utf8');

  it("the page's imports reach src/gpu/ and nothing of Node", () => {
    const page = reachable(PAGE, edges);
    expect(page.has('src/gpu/gpu.ts')).toBe(true);
    expect(nodeInPage(page, read)).toEqual([]);
  });

  it('the page chooses the web host; the CLI and the API choose the Node host', () => {
    expect(read(PAGE)).toMatch(/setHost\(webHost\)/);
    for (const entry of ['src/cli/main.ts', 'src/index.ts']) expect(read(entry)).toMatch(/setHost\(nodeHost\)/);
    // Nothing of src/gpu/ picks one itself.
    expect(edges.filter((e) => sourceOf(e.to) === NODE_HOST && e.from.startsWith('src/gpu/'))).toEqual([]);
  });

  it('reads run-time imports only: type-only ones vanish from the bundle', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C, type D } from './cd.js';",
      "import { type E, f } from './ef.js';",
      "export type { G } from './g.js';",
      "export { h } from './h.js';",
      "import 'node:fs';",
      "const i = await import('./i.js');",
    ].join('\n');
    expect(valueSpecifiers(text)).toEqual(['./a.js', './ef.js', './h.js', 'node:fs', './i.js']);
  });

  it('sees the Node host, or a node: import, reached from the page', () => {
    const made: Edge[] = [
      { from: PAGE, to: 'src/gpu/gpu.js' },
      { from: 'src/gpu/gpu.ts', to: 'src/gpu/node-host.js' },
      { from: 'src/other.ts', to: 'src/far.js' },
    ];
    const files = reachable(PAGE, made);
    expect([...files].sort()).toEqual(['src/gpu/gpu.ts', NODE_HOST, PAGE]);
    const texts: Record<string, string> = { [PAGE]: '', 'src/gpu/gpu.ts': "import { readFile } from 'node:fs';", [NODE_HOST]: "import 'koffi';" };
    expect(nodeInPage(files, (f) => texts[f]!)).toEqual(['src/gpu/gpu.ts imports node:fs', `${NODE_HOST} (the Node host)`, `${NODE_HOST} imports koffi`]);
  });
});
