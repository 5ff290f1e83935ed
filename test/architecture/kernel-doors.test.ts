// Who may import src/kernels/ (../shared/DESIGN.md: the CLI reaches kernels only through the floor that
// owns tuning): the backend, whose kernel table (src/backend/kernels.ts) binds every shared kernel;
// the op table (src/autograd/ops.ts), where an op's own kernel may be defined beside its entry (one op,
// four places: docs/architecture.md); and src/tune/, which tunes the conv kernels and is the face they
// show upward (their names for `gpuseg tune`, what src/measure/ times). Everything else above the
// kernels' floor goes through one of those.
import { describe, expect, it } from 'vitest';
import { type Edge, folderOf, importEdges } from './imports.js';

/** The folders of src/ that may import src/kernels/ (besides src/kernels/ itself). */
const KERNEL_DOORS = ['backend', 'tune'];
/** The one file elsewhere that may: the op table. */
const DOOR_FILES = ['src/autograd/ops.ts'];

function kernelImports(edges: readonly Edge[]): string[] {
  return edges
    .filter((e) => folderOf(e.to) === 'kernels' && folderOf(e.from) !== null && !['kernels', ...KERNEL_DOORS].includes(folderOf(e.from)!))
    .filter((e) => !DOOR_FILES.includes(e.from))
    .map((e) => `${e.from} imports ${e.to}: reach the kernels through src/tune/ or the backend`);
}

describe('the doors to the kernels', () => {
  it('only the backend, the op table and src/tune/ import src/kernels/', () => {
    const edges = importEdges('src');
    expect(edges.filter((e) => folderOf(e.to) === 'kernels' && folderOf(e.from) === 'tune').length).toBeGreaterThan(0);
    expect(kernelImports(edges)).toEqual([]);
  });

  it('sees a kernel imported from the CLI or the benchmarks', () => {
    const found = kernelImports([
      { from: 'src/cli/tune.ts', to: 'src/kernels/conv/index.js' },
      { from: 'src/measure/matmul.ts', to: 'src/kernels/matmul.js' },
      { from: 'src/backend/webgpu/index.ts', to: 'src/kernels/conv/forward.js' },
      { from: 'src/tune/unet.ts', to: 'src/kernels/conv/index.js' },
      { from: 'src/kernels/conv/forward.ts', to: 'src/kernels/reduce.js' },
      { from: 'src/autograd/ops.ts', to: 'src/kernels/cube.js' },
      { from: 'src/autograd/functional.ts', to: 'src/kernels/cube.js' },
    ]);
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/^src\/cli\/tune\.ts imports src\/kernels\/conv\/index\.js/);
    expect(found[1]).toMatch(/^src\/measure\/matmul\.ts/);
    expect(found[2]).toMatch(/^src\/autograd\/functional\.ts/);
  });
});
