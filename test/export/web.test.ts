// `gpuseg export RUN --web DIR` and `gpuseg serve DIR`, end to end: a tiny run is trained, exported and
// served; Debian's headless Chromium opens the page on SwiftShader (its CPU WebGPU adapter); an image at
// the model's size goes in through the file input, and the page's probabilities must be the ones
// `predict` computes in Node (lavapipe through Dawn) to 1e-3; the overlay must show the tint exactly
// where the probabilities pass the threshold. The server is checked for content types, 404s and paths
// that try to leave the folder; the page for a clear message when the browser has no WebGPU.
//
// GPUSEG_WEB_SCREENSHOT=FILE saves a screenshot of the page after an image (docs/web-page.png).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRgb } from '../../src/data/overlay.js';
import { loadModel, predict } from '../../src/evaluate/model-io.js';
import type { PageResult } from '../../src/web/page.js';
import { CHROMIUM } from '../report/browser.js';
import { gpuseg } from '../cli/gpuseg.js';

const SIZE = 32;
/** The page's <canvas> elements are 256 CSS px wide: one model pixel is an 8 x 8 block on screen. */
const CANVAS_PX = 256;
const TOLERANCE = 1e-3;
/** Screenshot colours may be off by a unit or two of 255 through the compositor. */
const COLOUR_TOLERANCE = 3;
const PAGE_TIMEOUT_MS = 120_000;

/**
 * WebGPU in headless Chromium on a machine without a GPU: Linux is not on Chromium's WebGPU allow list
 * (--enable-unsafe-webgpu), and SwiftShader, the CPU Vulkan that ships with it, is its adapter
 * (--use-webgpu-adapter=swiftshader). No --disable-gpu: it would switch WebGPU off. No sandbox: CI runs
 * as root. Colours in sRGB as drawn, so screenshots can be compared pixel by pixel.
 */
const WEBGPU_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--hide-scrollbars',
  '--force-color-profile=srgb',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
];

const dir = mkdtempSync(join(tmpdir(), 'gpuseg-web-'));
const category = join(dir, 'data', 'fabric');
const run = join(dir, 'run');
const web = join(dir, 'web');
/** A defect image of the test set, at the model's size (so that no resize happens in either place). */
const image = join(category, 'test', 'hole', '000.png');
/** Another image: its map must differ from the page's by far more than the tolerance (the check has teeth). */
const other = join(category, 'test', 'good', '000.png');

let server: ChildProcess | null = null;
let url = '';
let browser: Browser | null = null;

/** Starts `gpuseg serve DIR --port 0 --json` and resolves with the URL it prints. */
function serve(folder: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', folder, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((done, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += String(d)));
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('\n')) done({ child, url: (JSON.parse(out.split('\n')[0]!) as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`gpuseg serve exited with ${code}: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((done) => child.once('exit', (code) => done(code)));
}

/** One raw HTTP request (the path is sent as written, `..` included, which fetch() would normalise). */
function get(path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((done, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function openPage(before?: string): Promise<Page> {
  const page = await browser!.newPage();
  await page.setViewport({ width: 1000, height: 720, deviceScaleFactor: 1 });
  if (before) await page.evaluateOnNewDocument(before);
  await page.goto(url, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
  await page.waitForFunction(`document.body.dataset.state !== 'loading'`, { timeout: PAGE_TIMEOUT_MS });
  return page;
}

async function status(page: Page): Promise<{ state: string; text: string }> {
  return (await page.evaluate(`({ state: document.body.dataset.state, text: document.getElementById('status').textContent })`)) as { state: string; text: string };
}

/** Feeds `file` through the file input and waits for the page's result number `count`. */
async function runImage(page: Page, file: string, count: number): Promise<PageResult> {
  const input = (await page.$('#file')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(file);
  await page.waitForFunction(`(window.gpusegResult?.count ?? 0) >= ${count} || document.body.dataset.state === 'error'`, { timeout: PAGE_TIMEOUT_MS });
  const s = await status(page);
  if (s.state === 'error') throw new Error(`the page failed: ${s.text}`);
  return (await page.evaluate('window.gpusegResult')) as PageResult;
}

async function setThreshold(page: Page, value: number): Promise<void> {
  await page.evaluate(`(() => { const t = document.getElementById('threshold'); t.value = '${value}'; t.dispatchEvent(new Event('input')); })()`);
}

/** The overlay canvas as shown: one RGB colour per model pixel, read at the centre of its block. */
async function shownOverlay(page: Page): Promise<Uint8Array> {
  const png = await (await page.$('#overlay'))!.screenshot({ type: 'png' });
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([CANVAS_PX, CANVAS_PX]);
  const block = CANVAS_PX / SIZE;
  const out = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const p = ((y * block + block / 2) * CANVAS_PX + x * block + block / 2) * 3;
      out.set(data.subarray(p, p + 3), (y * SIZE + x) * 3);
    }
  }
  return out;
}

/** What the overlay must show: predict's tint (half red) where the 8-bit probability passes the threshold. */
function expectedOverlay(rgb: Uint8Array, probability: number[], threshold: number): Uint8Array {
  const out = Uint8Array.from(rgb);
  probability.forEach((p, i) => {
    if (Math.round(Math.min(1, Math.max(0, p)) * 255) <= threshold * 255) return;
    [255, 0, 0].forEach((tint, c) => (out[i * 3 + c] = Math.round(0.5 * rgb[i * 3 + c]! + 0.5 * tint)));
  });
  return out;
}

/** Pixels whose colour differs from the expected one by more than COLOUR_TOLERANCE. */
function wrongPixels(shown: Uint8Array, expected: Uint8Array): number {
  let wrong = 0;
  for (let p = 0; p < SIZE * SIZE; p++) {
    const d = Math.max(...[0, 1, 2].map((c) => Math.abs(shown[p * 3 + c]! - expected[p * 3 + c]!)));
    if (d > COLOUR_TOLERANCE) wrong++;
  }
  return wrong;
}

beforeAll(async () => {
  let r = gpuseg(['synth', join(dir, 'data'), '--size', String(SIZE), '--categories', 'fabric', '--train-good', '5', '--test-good', '2', '--per-type', '2']);
  expect(r.status, r.stderr).toBe(0);
  r = gpuseg(['train', '--data', category, '--out', run, '--size', String(SIZE), '--batch', '4', '--steps', '3', '--no-eval', '--validate-every', '0']);
  expect(r.status, r.stderr).toBe(0);
});

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('gpuseg export --web', () => {
  it('writes the page, one bundled script, the weights as they are and model.json', () => {
    const r = gpuseg(['export', run, '--web', web, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = (JSON.parse(r.stdout) as { web: { dir: string; files: string[]; bytes: number; scriptBytes: number; size: number } }).web;
    expect(summary.files.sort()).toEqual(['index.html', 'model.json', 'model.safetensors', 'page.js']);
    expect(summary.size).toBe(SIZE);
    expect(readFileSync(join(web, 'model.safetensors')).equals(readFileSync(join(run, 'last.safetensors')))).toBe(true);
    // The slider starts at the run's decision threshold (threshold.json), the one predict's masks use.
    const threshold = JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8')).threshold;
    expect(JSON.parse(readFileSync(join(web, 'model.json'), 'utf8'))).toEqual({ format: 1, size: SIZE, threshold, run: 'run' });
    const html = readFileSync(join(web, 'index.html'), 'utf8');
    expect(html).toMatch(/<script type="module" src="page\.js"><\/script>/);
    // Nothing of Node in the page's script: the bundle would not run in a browser.
    const script = readFileSync(join(web, 'page.js'), 'utf8');
    expect(script.length).toBe(summary.scriptBytes);
    for (const nodeOnly of ['node:', 'process.', 'require(', 'koffi', 'readFileSync']) expect(script, nodeOnly).not.toContain(nodeOnly);
    // Every shader is inside it.
    expect(script).toContain('fn main');
  });

  it('refuses a missing run, a size that is no multiple of 32 and a file as --web, with one line and exit 2', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const cases: [string[], RegExp][] = [
      [['export', join(dir, 'none'), '--web', join(dir, 'w1')], /no such run folder/],
      [['export', run, '--web', join(dir, 'w2'), '--size', '33'], /--size must be a multiple of 32/],
      [['export', run, '--web', file], /--web '.*a-file' is a file/],
    ];
    for (const [args, message] of cases) {
      const r = gpuseg(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('gpuseg serve', () => {
  it('refuses a missing folder and a folder without index.html, with one line and exit 2', () => {
    for (const [folder, message] of [
      [join(dir, 'none'), /no such folder/],
      [run, /no index\.html in it/],
    ] as const) {
      const r = gpuseg(['serve', folder, '--port', '0']);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('serves the folder on 127.0.0.1 with the right content types, 404 for the rest and nothing outside', async () => {
    ({ child: server, url } = await serve(web));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const types: [string, string][] = [
      ['/', 'text/html; charset=utf-8'],
      ['/index.html', 'text/html; charset=utf-8'],
      ['/page.js', 'text/javascript; charset=utf-8'],
      ['/model.json', 'application/json'],
      ['/model.safetensors', 'application/octet-stream'],
    ];
    for (const [path, type] of types) {
      const r = await get(path);
      expect([path, r.status, r.type]).toEqual([path, 200, type]);
    }
    expect((await get('/model.safetensors', 'HEAD')).body.length).toBe(0);
    expect((await get('/model.json')).body.equals(readFileSync(join(web, 'model.json')))).toBe(true);
    // A secret beside the folder, and a link inside the folder that points at it.
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'secret.txt'), join(web, 'link.txt'));
    for (const path of ['/missing.js', '/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/..%5csecret.txt', '/link.txt', '/%00', '/%E0%A4%A']) {
      const r = await get(path);
      expect([path, r.status]).toEqual([path, 404]);
      expect(r.body.toString()).not.toContain('secret');
    }
    expect((await get('/', 'POST')).status).toBe(405);
  });
});

describe('the page in headless Chromium (WebGPU on SwiftShader)', () => {
  it('gives the probabilities predict gives in Node, and draws the overlay where they pass the threshold', async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run scripts/install-chromium.sh`).toBe(true);
    expect(server, 'the serve test starts the server').not.toBeNull();
    browser = await puppeteer.launch({ executablePath: CHROMIUM, ignoreDefaultArgs: true, pipe: true, args: [...WEBGPU_FLAGS, `--user-data-dir=${join(dir, 'chromium')}`, 'about:blank'] });
    const page = await openPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const s = await status(page);
    expect(s, s.text).toMatchObject({ state: 'ready' });
    expect(s.text).toMatch(/swiftshader/i);
    // The slider holds the run's threshold (no 0.01 grid moves it); Chromium writes a range's value with
    // 14 significant digits, so it is the threshold to 1e-12.
    const slider = await page.evaluate(`document.getElementById('threshold').value`);
    expect(Number(slider)).toBeCloseTo(JSON.parse(readFileSync(join(run, 'threshold.json'), 'utf8')).threshold, 12);

    const loaded = await loadModel(run);
    let expected: Float32Array;
    let unlike: Float32Array;
    try {
      [expected] = (await predict(loaded, [image])) as [Float32Array];
      [unlike] = (await predict(loaded, [other])) as [Float32Array];
    } finally {
      loaded.close();
    }

    const first = await runImage(page, image, 1);
    expect([first.width, first.height, first.probability.length]).toEqual([SIZE, SIZE, SIZE * SIZE]);
    const maxDiff = (to: Float32Array): number => first.probability.reduce((m, p, i) => Math.max(m, Math.abs(p - to[i]!)), 0);
    expect(maxDiff(expected)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxDiff(unlike)).toBeGreaterThan(10 * TOLERANCE);
    // The same image again, warm: the time per image the page reports.
    const second = await runImage(page, image, 2);
    expect(second.probability).toEqual(first.probability);
    console.log(`web page: ${second.ms.toFixed(0)} ms per ${SIZE}x${SIZE} image on ${second.adapter} (first ${first.ms.toFixed(0)} ms); max |page - node| = ${maxDiff(expected).toExponential(2)}, against another image ${maxDiff(unlike).toFixed(3)}`);

    const rgb = (await readRgb(image)).data;
    for (const threshold of [0.5, 0, 1]) {
      await setThreshold(page, threshold);
      const want = expectedOverlay(rgb, second.probability, threshold);
      expect(wrongPixels(await shownOverlay(page), want), `overlay at threshold ${threshold}`).toBe(0);
    }
    // At 0 every pixel is tinted, at 1 none: the picture shows the tint, not the image alone.
    expect(wrongPixels(expectedOverlay(rgb, second.probability, 0), rgb)).toBe(SIZE * SIZE);
    await setThreshold(page, 0.5);
    if (process.env.GPUSEG_WEB_SCREENSHOT) writeFileSync(process.env.GPUSEG_WEB_SCREENSHOT, await page.screenshot({ type: 'png' }));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says so when the browser has no WebGPU, or no adapter', async () => {
    expect(browser, 'the previous test launches the browser').not.toBeNull();
    const cases: [string, RegExp][] = [
      ['delete Navigator.prototype.gpu;', /offers no WebGPU \(navigator\.gpu is missing\)/],
      ['GPU.prototype.requestAdapter = async () => null;', /has WebGPU but gave no adapter/],
    ];
    for (const [script, message] of cases) {
      const page = await openPage(script);
      const s = await status(page);
      expect(s.state).toBe('error');
      expect(s.text).toMatch(message);
      expect(await page.evaluate('window.gpusegResult === undefined')).toBe(true);
      await page.close();
    }
  });

  it('stops serving on SIGTERM, exiting 0', async () => {
    server!.kill('SIGTERM');
    expect(await exited(server!)).toBe(0);
  });
});
