import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withoutDawnNotices } from '../../src/gpu/native-stderr.js';

const NOTICE = (kind: string) => `Warning: max${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.`;

describe("Dawn's limit notices", () => {
  it('are dropped whole-line, and every other line is kept as it was', () => {
    const text = `${NOTICE('DynamicUniform')}\nError: device lost\n${NOTICE('DynamicStorage')}\r\nWarning: something else\npartial`;
    expect(withoutDawnNotices(text)).toBe('Error: device lost\nWarning: something else\npartial');
    expect(withoutDawnNotices(`x ${NOTICE('DynamicUniform')}\n`)).toBe(`x ${NOTICE('DynamicUniform')}\n`);
  });

  it('written by native code to descriptor 2 are filtered, while a real native error still reaches stderr', () => {
    // In a child: native write(2, ...) calls, as Dawn's own logging makes them, inside and outside the filter.
    const module = resolve('src/gpu/native-stderr.ts');
    const script = `
      import koffi from 'koffi';
      import { filterNativeStderr } from ${JSON.stringify(module)};
      const write = koffi.load('libc.so.6').func('long write(int, const char*, size_t)');
      const say = (s) => write(2, s, Buffer.byteLength(s));
      await filterNativeStderr(async () => {
        say(${JSON.stringify(`${NOTICE('DynamicUniform')}\n`)});
        say('Error: a real Dawn error\\n');
        say(${JSON.stringify(`${NOTICE('DynamicStorage')}\n`)});
      });
      say('after\\n');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('Error: a real Dawn error\nafter\n');
  });
});
