// Shader loading and the pipeline cache.
//
// A shader is a file in shaders/. Two things happen to its text before compilation:
// - `#include "other.wgsl"` lines are replaced by that file (shared helpers, e.g. grid indexing);
//   `#include "other.wgsl" FN=loadX BUF=X` first replaces `${FN}` and `${BUF}` in it (a helper written
//   once for several buffers); a value may itself be a `${NAME}` filled below;
// - `${NAME}` placeholders and `#if ${NAME}` blocks are filled by wgsl-preprocessor from the
//   specialisation constants (tile sizes, fused activations). Shapes never go here: they are uniforms,
//   so a pipeline is built once per tile configuration (0.2 to 0.6 s each on lavapipe).
// The cache key is derived from the specialisation itself (file, entry point, sorted constants), never
// written by hand. The files' texts come from the platform: read from the package in Node, bundled into
// the script in a page.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { host } from './host.js';
import { shortHash } from './tuning.js';

export type Defines = Readonly<Record<string, number | boolean | string>>;

const sourceCache = new Map<string, string>();
const hashCache = new Map<string, string>();

const INCLUDE_LINE = /^[ \t]*#include\b(.*)$/gm;
const INCLUDE_ARGS = /^[ \t]+"([^"]+)"((?:[ \t]+\w+=\S+)*)[ \t]*$/;

function readShader(file: string, seen: string[] = []): string {
  const cached = sourceCache.get(file);
  if (cached !== undefined) return cached;
  if (seen.includes(file)) throw new Error(`shaders/${file}: #include cycle through ${seen.join(' -> ')}`);
  const text = host.shaderText(file).replace(INCLUDE_LINE, (line, rest: string) => {
    const m = INCLUDE_ARGS.exec(rest);
    if (!m) throw new Error(`shaders/${file}: bad line '${line.trim()}' (want #include "file.wgsl" [NAME=value ...])`);
    return withNames(readShader(m[1]!, [...seen, file]), m[2]!, `shaders/${file}: #include "${m[1]}"`);
  });
  sourceCache.set(file, text);
  return text;
}

/** An included text with the `${NAME}`s its include line sets replaced; a name it does not use is a mistake. */
function withNames(text: string, names: string, where: string): string {
  for (const pair of names.trim().split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const placeholder = `\${${pair.slice(0, eq)}}`;
    if (!text.includes(placeholder)) throw new Error(`${where} sets ${pair.slice(0, eq)}, which the file does not use`);
    text = text.replaceAll(placeholder, pair.slice(eq + 1));
  }
  return text;
}

/** The WGSL that `file` compiles to under `defines`. Exported for the debug knob and tests. */
export function shaderSource(file: string, defines: Defines = {}): string {
  const text = readShader(file);
  const strings: string[] = [];
  const values: unknown[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$\{(\w+)\}/g)) {
    const name = m[1]!;
    if (!(name in defines)) throw new Error(`shaders/${file}: specialisation constant \${${name}} was not given`);
    strings.push(text.slice(last, m.index));
    values.push(defines[name]);
    last = m.index! + m[0].length;
  }
  strings.push(text.slice(last));
  return wgsl(strings, ...values);
}

/** A hash of a shader's text (includes expanded): tuning entries measured on other text do not match. */
export function shaderHash(files: readonly string[]): string {
  const name = files.join('+');
  let hash = hashCache.get(name);
  if (hash === undefined) hashCache.set(name, (hash = shortHash(files.map((f) => readShader(f)).join('\n'))));
  return hash;
}

export function pipelineKey(file: string, entryPoint: string, defines: Defines): string {
  const sorted = Object.keys(defines)
    .sort()
    .map((k) => [k, defines[k]]);
  return `${file}#${entryPoint}${JSON.stringify(sorted)}`;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** GPUSEG_PRINT_SHADERS=1 prints every shader as it is built (a debug knob). */
  private readonly printShaders = host.setting('GPUSEG_PRINT_SHADERS') === '1';

  constructor(private readonly device: GPUDevice) {}

  get(file: string, defines: Defines = {}, entryPoint = 'main'): GPUComputePipeline {
    const key = pipelineKey(file, entryPoint, defines);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = shaderSource(file, defines);
      if (this.printShaders) host.debug(`// ---- ${key}\n${code}\n`);
      const label = key;
      const module = this.device.createShaderModule({ code, label });
      pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint }, label });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}
