// `gpuseg export RUN --web DIR`: a static folder that runs the trained UNet in a browser on gpuseg's own
// WGSL kernels (WebGPU): index.html, one bundled script (page.js), the weights (model.safetensors, the
// run's file as it is) and model.json (input size, default threshold).
//
// The script is bundled here, at export time, by esbuild from the same modules the CLI runs
// (src/web/page.ts and what it imports: kernels, backend/webgpu, model, inference). The page chooses its
// own platform in code (setHost(webHost), src/web/host.ts: navigator.gpu); the bundler supplies only the
// shaders/*.wgsl texts, as a module made at bundle time (`gpuseg:shaders`). The bundle is built for
// platform 'browser', so a node:* import anywhere in its graph fails the build (and
// test/architecture/host.test.ts fails first).
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { CpuBackend } from '../backend/cpu/index.js';
import { packageRoot } from '../gpu/dawn.js';
import { materialize } from '../model/module.js';
import { readFileBytes, readSafetensors } from '../model/safetensors.js';
import { importStateDict } from '../model/state.js';
import { Unet } from '../model/unet.js';
import { finishedRun } from '../run/run-folder.js';
import { type RunThreshold, runThreshold } from '../evaluate/threshold.js';
import { InputError } from '../util/errors.js';
import { errorMessage, makeFolder, writeFileAtomic } from '../util/files.js';
import { rng } from '../util/random.js';
import { PAGE_FILE, PAGE_SCRIPT, pageHtml } from '../web/html.js';
import { MODEL_INFO_FILE, MODEL_INFO_FORMAT, MODEL_WEIGHTS_FILE, type ModelInfo } from '../web/model-info.js';

/** The UNet halves its input five times. */
const SIZE_MULTIPLE = 32;
const SHADERS_MODULE = 'gpuseg:shaders';
const SHADERS_NAMESPACE = 'gpuseg-shaders';
/** Every browser with WebGPU runs ES2022. */
const BROWSER_TARGET = 'es2022';

export interface WebExportOptions {
  /** The page's input size (default: the run's); the UNet is fully convolutional. */
  size?: number;
}

export interface WebExportSummary {
  dir: string;
  files: string[];
  /** Bytes of all files written. */
  bytes: number;
  scriptBytes: number;
  size: number;
  /** Where the page's slider starts: the run's decision threshold, the one predict's masks use. */
  threshold: RunThreshold;
}

export async function exportWeb(run: string, dir: string, o: WebExportOptions = {}): Promise<WebExportSummary> {
  if (o.size !== undefined) checkSize(o.size);
  const { config, weights } = await readRun(run);
  await checkOutputFolder(dir);
  const threshold = await runThreshold(run);
  const script = await bundlePage();
  const info: ModelInfo = { format: MODEL_INFO_FORMAT, size: o.size ?? config.size, threshold: threshold.value, run: basename(resolve(run)) };
  const files: [string, Uint8Array][] = [
    [PAGE_FILE, encode(pageHtml(`gpuseg: ${info.run}`))],
    [PAGE_SCRIPT, encode(script)],
    [MODEL_INFO_FILE, encode(`${JSON.stringify(info, null, 1)}\n`)],
    [MODEL_WEIGHTS_FILE, weights],
  ];
  for (const [name, bytes] of files) await writeFileAtomic(join(dir, name), bytes);
  return {
    dir,
    files: files.map(([name]) => name),
    bytes: files.reduce((n, [, b]) => n + b.byteLength, 0),
    scriptBytes: files[1]![1].byteLength,
    size: info.size,
    threshold,
  };
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < SIZE_MULTIPLE || size % SIZE_MULTIPLE !== 0) {
    throw new InputError(`--size must be a multiple of ${SIZE_MULTIPLE} (the UNet halves it five times), got ${size}`);
  }
}

/**
 * config.json and the weights' bytes of a run folder, with predict's one-line errors. The weights are
 * loaded into a UNet on the CPU reference once, so that a file the page could not load (another model,
 * a wrong shape, NaN) is refused here rather than in the browser.
 */
async function readRun(run: string): Promise<{ config: { size: number }; weights: Uint8Array }> {
  const { config, weights: source } = await finishedRun(run);
  const weights = await readFileBytes(source);
  const model = new Unet<Float64Array>();
  const storage = materialize(model, new CpuBackend(), rng(0));
  try {
    importStateDict(model, readSafetensors(weights, source), { source });
  } finally {
    storage.params.destroy();
    storage.buffers.destroy();
  }
  return { config, weights };
}

/** Refuses a file as --web and creates the folder, before any work. */
async function checkOutputFolder(dir: string): Promise<void> {
  if (await stat(dir).then((s) => !s.isDirectory(), () => false)) throw new InputError(`--web '${dir}' is a file; give a folder`);
  await makeFolder(dir, '--web');
}

// ---- the bundle ------------------------------------------------------------------------------------

/** src/ when running from the TypeScript sources (tsx, vitest), dist/src/ when installed. */
function sourceRoot(): { dir: string; ext: string } {
  const here = fileURLToPath(import.meta.url);
  return { dir: resolve(dirname(here), '..'), ext: extname(here) };
}

/** Every shaders/*.wgsl by file name. */
async function readShaders(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.wgsl')).sort();
  const texts = await Promise.all(names.map((f) => readFile(join(dir, f), 'utf8')));
  return Object.fromEntries(names.map((f, i) => [f, texts[i]!]));
}

/** What makes the engine's modules a page: `gpuseg:shaders` becomes the shader texts. */
function pageShaders(shadersDir: string): Plugin {
  return {
    name: 'gpuseg-page-shaders',
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${SHADERS_MODULE}$`) }, () => ({ path: 'shaders', namespace: SHADERS_NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: SHADERS_NAMESPACE }, async () => ({
        contents: JSON.stringify(await readShaders(shadersDir)),
        loader: 'json',
      }));
    },
  };
}

/** The page's one script: src/web/page.ts with everything it imports, for a browser. */
async function bundlePage(): Promise<string> {
  // Loaded here, not at the top: only `export --web` needs the bundler.
  const { build } = await import('esbuild');
  const root = sourceRoot();
  try {
    const result = await build({
      entryPoints: [join(root.dir, 'web', `page${root.ext}`)],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: BROWSER_TARGET,
      minify: true,
      legalComments: 'none',
      write: false,
      logLevel: 'silent',
      plugins: [pageShaders(join(packageRoot(), 'shaders'))],
    });
    return result.outputFiles[0]!.text;
  } catch (err) {
    // A module that needs Node got into the page's imports: a bug, with esbuild's first message.
    const first = (err as { errors?: { text: string; location?: { file: string } | null }[] }).errors?.[0];
    throw new Error(`bundling the page failed: ${first ? `${first.location?.file ?? ''}: ${first.text}` : errorMessage(err)}`);
  }
}
