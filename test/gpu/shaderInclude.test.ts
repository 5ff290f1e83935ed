// The shader preprocessor's `#include`, with and without names (src/gpu/pipelines.ts). Made-up shaders are
// served through the host seam, so each case shows the text it expands; the real conv shaders are checked
// for the loaders their include lines write.
import { afterEach, describe, expect, it } from 'vitest';
import { host } from '../../src/gpu/host.js';
import { shaderSource } from '../../src/gpu/pipelines.js';

const realShaderText = host.shaderText;
let fake: Record<string, string> = {};
/** Serves `files` (names unique to each case: the preprocessor caches texts by name) before the package's. */
function serve(files: Record<string, string>): void {
  fake = files;
  host.shaderText = (file) => fake[file] ?? realShaderText(file);
}
afterEach(() => {
  host.shaderText = realShaderText;
});

describe('#include', () => {
  it('pastes the file in place of the line', () => {
    serve({ 'inc-a.wgsl': 'let a = 1;', 'top-a.wgsl': 'x\n#include "inc-a.wgsl"\ny' });
    expect(shaderSource('top-a.wgsl')).toBe('x\nlet a = 1;\ny');
  });

  it('replaces the names its line sets, once per include, before the specialisation constants', () => {
    serve({
      'inc-b.wgsl': 'fn ${FN}() -> f32 {\n#if ${VEC}\n  return ${BUF}[0].x;\n#else\n  return ${BUF}[1];\n#endif\n}',
      'top-b.wgsl': '#include "inc-b.wgsl" FN=loadX BUF=X VEC=${VEC_X}\n#include "inc-b.wgsl" FN=loadY BUF=Y VEC=${VEC_Y}',
    });
    const text = shaderSource('top-b.wgsl', { VEC_X: true, VEC_Y: false });
    expect(text.replace(/\n+/g, '\n').trim()).toBe(
      'fn loadX() -> f32 {\n  return X[0].x;\n}\nfn loadY() -> f32 {\n  return Y[1];\n}',
    );
    // The value `${VEC_X}` is a specialisation constant like any other: not given, it is refused.
    expect(() => shaderSource('top-b.wgsl', { VEC_Y: false })).toThrow(/VEC_X/);
  });

  it('refuses a name the file does not use, a malformed line and a cycle, naming the shader', () => {
    serve({
      'inc-c.wgsl': 'fn ${FN}() {}',
      'top-c.wgsl': '#include "inc-c.wgsl" FN=f BUF=X',
      'top-d.wgsl': '#include inc-c.wgsl',
      'top-e.wgsl': '#include "inc-c.wgsl" FN',
      'cyc-a.wgsl': '#include "cyc-b.wgsl"',
      'cyc-b.wgsl': '#include "cyc-a.wgsl"',
    });
    expect(() => shaderSource('top-c.wgsl')).toThrow('shaders/top-c.wgsl: #include "inc-c.wgsl" sets BUF, which the file does not use');
    expect(() => shaderSource('top-d.wgsl')).toThrow(/shaders\/top-d\.wgsl: bad line '#include inc-c\.wgsl'/);
    expect(() => shaderSource('top-e.wgsl')).toThrow(/shaders\/top-e\.wgsl: bad line/);
    expect(() => shaderSource('cyc-a.wgsl')).toThrow(/#include cycle through cyc-a\.wgsl -> cyc-b\.wgsl/);
  });

  it('writes the conv loaders from one file, each with its own buffer and row length', () => {
    const defines = { VEC_X: false, VEC_DY: true };
    const text = shaderSource('conv2d_weight_grad.wgsl', { ...weightGradDefines(), ...defines });
    expect(text).toContain('fn loadX(row: u32, c4: u32) -> vec4<f32> {');
    expect(text).toContain('let i = clampedLanes(row, p.cin, c4);');
    expect(text).toContain('return vec4<f32>(X[i.x], X[i.y], X[i.z], X[i.w]);');
    expect(text).toContain('fn loadDy(row: u32, c4: u32) -> vec4<f32> {');
    expect(text).toContain('return DY[row * p.cout4 + c4];');
    expect(text).not.toContain('${');
  });
});

/** Every constant conv2d_weight_grad.wgsl names, with stand-in values (the text is only read, not compiled). */
function weightGradDefines(): Record<string, number | boolean> {
  host.shaderText = realShaderText;
  const names = new Set<string>();
  const collect = (file: string, seen = new Set<string>()): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = realShaderText(file);
    for (const m of text.matchAll(/^[ \t]*#include\s+"([^"]+)"(.*)$/gm)) collect(m[1]!, seen);
    for (const m of text.matchAll(/\$\{(\w+)\}/g)) names.add(m[1]!);
  };
  collect('conv2d_weight_grad.wgsl');
  for (const local of ['FN', 'BUF', 'VEC', 'C', 'C4']) names.delete(local);
  return Object.fromEntries([...names].map((n) => [n, n.startsWith('VEC') || n.startsWith('SHARE') ? false : 4]));
}
