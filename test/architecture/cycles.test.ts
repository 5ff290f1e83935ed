// No import circles inside a folder of src/: the staircase (layers.test.ts) already keeps imports
// between folders one-way, so a circle can only close within one folder (as src/gpu/gpu.ts and
// bind-groups.ts once did over the BufferRef type). A depth-first search over the same import edges
// layers.test.ts reads, type-only imports included.
import { describe, expect, it } from 'vitest';
import { type Edge, folderOf, importEdges, sourceOf } from './imports.js';

/** Every import circle among edges that stay within one folder of src/, each as its files in order. */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    const target = sourceOf(to);
    const folder = folderOf(from);
    if (folder === null || folder !== folderOf(target)) continue;
    next.set(from, [...(next.get(from) ?? []), target]);
  }
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string) => {
    path.push(file);
    onPath.add(file);
    for (const to of next.get(file) ?? []) {
      if (onPath.has(to)) found.push([...path.slice(path.indexOf(to)), to]);
      else if (!done.has(to)) visit(to);
    }
    onPath.delete(file);
    path.pop();
    done.add(file);
  };
  for (const file of [...next.keys()].sort()) if (!done.has(file)) visit(file);
  return found;
}

describe('import circles', () => {
  it('none within any folder of src/', () => {
    const edges = importEdges('src');
    expect(edges.length).toBeGreaterThan(300);
    expect(cycles(edges).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('sees a circle of two files, one of three through a subfolder, and not a mere diamond', () => {
    const found = cycles([
      { from: 'src/gpu/gpu.ts', to: 'src/gpu/bind-groups.js' },
      { from: 'src/gpu/bind-groups.ts', to: 'src/gpu/gpu.js' },
      { from: 'src/kernels/conv/forward.ts', to: 'src/kernels/conv/tiles.js' },
      { from: 'src/kernels/conv/tiles.ts', to: 'src/kernels/reduce.js' },
      { from: 'src/kernels/reduce.ts', to: 'src/kernels/conv/forward.js' },
      // A diamond is no circle; nor is an edge between folders (the staircase's business).
      { from: 'src/model/a.ts', to: 'src/model/b.js' },
      { from: 'src/model/a.ts', to: 'src/model/c.js' },
      { from: 'src/model/b.ts', to: 'src/model/d.js' },
      { from: 'src/model/c.ts', to: 'src/model/d.js' },
      { from: 'src/core/x.ts', to: 'src/util/y.js' },
      { from: 'src/util/y.ts', to: 'src/core/x.js' },
    ]);
    expect(found.map((c) => c.join(' -> '))).toEqual([
      'src/gpu/bind-groups.ts -> src/gpu/gpu.ts -> src/gpu/bind-groups.ts',
      'src/kernels/conv/forward.ts -> src/kernels/conv/tiles.ts -> src/kernels/reduce.ts -> src/kernels/conv/forward.ts',
    ]);
  });
});
