// A batch cut into its annotated samples and its normal images, for a step that sends the two through
// the network apart (--normal-bn separate), so that the normal images do not shift the annotated
// samples' batch statistics. Host-side slicing of rows; the normal images come last in a batch.
import type { Batch } from './batch.js';
import { cellCount } from './cells.js';

/** Rows [from, to) of a [n, ...] array of n rows. */
function rows(a: Float32Array, n: number, from: number, to: number): Float32Array {
  const per = a.length / n;
  return a.slice(from * per, to * per);
}

function part(b: Batch, from: number, to: number): Batch {
  const n = to - from;
  const defectCells = rows(b.defectCells, b.n, from, to);
  const normalCells = rows(b.normalCells, b.n, from, to);
  const kinds = b.kinds.slice(from, to);
  return {
    n,
    size: b.size,
    kinds,
    input: rows(b.input, b.n, from, to),
    target: rows(b.target, b.n, from, to),
    segWeights: b.segWeights.slice(from, to),
    normalWeights: b.normalWeights.slice(from, to),
    normals: kinds.filter((k) => k === 'normal').length,
    grid: b.grid,
    defectCells,
    normalCells,
    defectCellCount: cellCount(defectCells),
    normalCellCount: cellCount(normalCells),
    paste: from === 0 ? annotatedPaste(b, n) : null,
  };
}

/** The paste regions of the first `a` samples: the pasted samples and their shots are all among them. */
function annotatedPaste(b: Batch, a: number): Batch['paste'] {
  const p = b.paste;
  if (!p) return null;
  const cells = b.grid * b.grid;
  const cut = (m: Float32Array) => {
    const out = new Float32Array(a * a * cells);
    for (let i = 0; i < a; i++) out.set(m.subarray(i * b.n * cells, i * b.n * cells + a * cells), i * a * cells);
    return out;
  };
  return { pasted: cut(p.pasted), source: cut(p.source), isPasted: p.isPasted.slice(0, a), fixedWeights: p.fixedWeights.slice(0, a), count: p.count };
}

/** [annotated samples, normal images]; a batch of only one kind stays whole. */
export function splitBatch(b: Batch): Batch[] {
  const annotated = b.n - b.normals;
  if (annotated === 0 || b.normals === 0) return [b];
  return [part(b, 0, annotated), part(b, annotated, b.n)];
}
