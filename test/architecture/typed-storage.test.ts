// Typed storage: mixing the tensors, models or optimizers of two backends must not compile. The cases
// are test/types/storage.ts, each under `@ts-expect-error`, so a case that compiles fails tsc here.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

test('tsc refuses every mix of two backends in test/types/storage.ts, and compiles the rest', () => {
  const cases = readFileSync(join(root, 'test/types/storage.ts'), 'utf8').match(/^\/\/ @ts-expect-error /gm) ?? [];
  expect(cases.length).toBeGreaterThanOrEqual(7);
  let output = '';
  try {
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'test/types/tsconfig.json')], { encoding: 'utf8' });
  } catch (e) {
    output = String((e as { stdout?: string }).stdout ?? e);
  }
  expect(output).toBe('');
}, 120_000);
