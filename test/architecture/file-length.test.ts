// Issue 12's measure that a file of src/ reads in one sitting: under 300 lines. A file that outgrows it
// splits along what it holds (a kernel's variants, a command's steps), as the rest of src/ did.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 300;

/** Lines of each TypeScript file under `dir` (a final newline ends the last line, it opens none). */
function lineCounts(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) for (const [p, n] of lineCounts(path)) out.set(p, n);
    else if (name.endsWith('.ts')) out.set(path, readFileSync(path, 'utf8').replace(/\n$/, '').split('\n').length);
  }
  return out;
}

describe('file length', () => {
  it(`every file of src/ is under ${MAX_LINES} lines`, () => {
    const counts = lineCounts('src');
    expect(counts.size).toBeGreaterThan(100);
    expect([...counts].filter(([, n]) => n >= MAX_LINES).map(([p, n]) => `${p}: ${n} lines`)).toEqual([]);
  });
});
