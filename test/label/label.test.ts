// `gpuseg label CATEGORY`: the server on a temporary category (real images written with sharp: a PNG
// with a mask, one without, a JPEG stored sideways with an EXIF orientation, a TIFF), over real HTTP
// (Host and Origin checks, paths that try to leave the listing, refusals to overwrite), then the page
// in Debian's headless Chromium: a brush stroke and an eraser stroke painted with the mouse at known
// pixels, saved, and the mask files read back with sharp. Also the Host check of `gpuseg serve`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_EXTENSIONS } from '../../src/data/mvtec.js';
import { type LabelServer, startLabelServer } from '../../src/label/server.js';
import { CHROMIUM } from '../report/browser.js';
import { gpuseg } from '../cli/gpuseg.js';

const W = 64;
const H = 48;
/** The JPEG is stored 40 wide and 20 high with EXIF orientation 6 (turn 90° clockwise): upright 20x40. */
const SIDEWAYS = { width: 40, height: 20, orientation: 6 };
const TIFF_LISTED = (IMAGE_EXTENSIONS as readonly string[]).includes('.tif');
const PAGE_TIMEOUT_MS = 60_000;
/** A file beside the category that no request may read. */
const SECRET = 'the-secret-bytes';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--hide-scrollbars'];

const dir = mkdtempSync(join(tmpdir(), 'gpuseg-label-'));
const category = join(dir, 'cat');
const existingMask = join(category, 'ground_truth', 'crack', '000_mask.png');
let server: LabelServer | null = null;
let port = 0;
let browser: Browser | null = null;

/** A textured RGB image (so that a PNG that came back can be compared pixel by pixel). */
function texture(width: number, height: number): Buffer {
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37 + (i >> 5) * 11) & 255;
  return rgb;
}
const raw = (width: number, height: number, channels: 1 | 3, data: Buffer) => sharp(data, { raw: { width, height, channels } });

beforeAll(async () => {
  for (const sub of ['train/good', 'test/good', 'test/crack', 'test/hole', 'ground_truth/crack']) mkdirSync(join(category, sub), { recursive: true });
  await raw(W, H, 3, texture(W, H)).png().toFile(join(category, 'train', 'good', '000.png'));
  await raw(W, H, 3, texture(W, H)).png().toFile(join(category, 'test', 'good', '000.png'));
  await raw(W, H, 3, texture(W, H)).png().toFile(join(category, 'test', 'crack', '000.png'));
  await raw(W, H, 3, texture(W, H)).png().toFile(join(category, 'test', 'crack', '001.png'));
  await raw(SIDEWAYS.width, SIDEWAYS.height, 3, texture(SIDEWAYS.width, SIDEWAYS.height)).jpeg().withMetadata({ orientation: SIDEWAYS.orientation }).toFile(join(category, 'test', 'hole', '000.jpg'));
  await raw(W, H, 3, texture(W, H)).tiff().toFile(join(category, 'test', 'hole', '001.tif'));
  // An existing mask: a 10x8 rectangle at (4, 6), stored as RGB (the page must still read it).
  const mask = Buffer.alloc(W * H * 3);
  for (let y = 6; y < 14; y++) for (let x = 4; x < 14; x++) mask.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
  await raw(W, H, 3, mask).png().toFile(existingMask);
  writeFileSync(join(category, 'test', 'crack', 'notes.txt'), 'not an image');
  writeFileSync(join(dir, 'secret.png'), SECRET);
  symlinkSync(join(dir, 'secret.png'), join(category, 'test', 'crack', 'link.png'));
  server = await startLabelServer(category, 0);
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  type: string | undefined;
  body: Buffer;
}

/** One raw HTTP request: the path is sent as written, the Host header as given (undefined: none). */
function http(path: string, o: { port?: number; method?: string; host?: string | null; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Reply> {
  const p = o.port ?? port;
  const host = o.host === undefined ? `127.0.0.1:${p}` : o.host;
  const headers: Record<string, string> = { ...(host === null ? {} : { host }), ...o.headers };
  return new Promise((done, reject) => {
    const req = request({ host: '127.0.0.1', port: p, path, method: o.method ?? 'GET', headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const q = (type: string, name: string) => `type=${encodeURIComponent(type)}&name=${encodeURIComponent(name)}`;
const saveMask = (type: string, name: string, width: number, height: number, pixels: Uint8Array, extra = '', headers: Record<string, string> = {}) =>
  http(`/api/mask?${q(type, name)}&width=${width}&height=${height}${extra}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body: pixels });

/** A PNG's channel count as stored, and its first channel's pixels (sharp's raw() would make grey sRGB). */
async function readMaskFile(file: string | Buffer): Promise<{ channels: number; width: number; height: number; data: Buffer }> {
  const meta = await sharp(file).metadata();
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { channels: meta.channels, width: info.width, height: info.height, data };
}

describe('gpuseg label: the server', () => {
  it('lists the defect images by type (not test/good, not other files or links) and which have masks', async () => {
    const r = await http('/api/list');
    expect([r.status, r.type]).toEqual([200, 'application/json']);
    const listing = JSON.parse(r.body.toString()) as { category: string; images: unknown[] };
    expect(listing.category).toBe('cat');
    expect(listing.images).toEqual([
      { type: 'crack', name: '000.png', mask: '000_mask.png' },
      { type: 'crack', name: '001.png', mask: null },
      { type: 'hole', name: '000.jpg', mask: null },
      ...(TIFF_LISTED ? [{ type: 'hole', name: '001.tif', mask: null }] : []),
    ]);
  });

  it('sends images as PNG at their upright size, pixels unchanged, and masks as 0/255', async () => {
    const png = await http(`/api/image?${q('crack', '000.png')}`);
    expect([png.status, png.type]).toEqual([200, 'image/png']);
    const decoded = await sharp(png.body).raw().toBuffer({ resolveWithObject: true });
    expect([decoded.info.width, decoded.info.height, decoded.info.channels]).toEqual([W, H, 3]);
    expect(decoded.data.equals(texture(W, H))).toBe(true);
    const jpeg = await sharp((await http(`/api/image?${q('hole', '000.jpg')}`)).body).metadata();
    expect([jpeg.format, jpeg.width, jpeg.height]).toEqual(['png', SIDEWAYS.height, SIDEWAYS.width]);
    if (TIFF_LISTED) expect(await sharp((await http(`/api/image?${q('hole', '001.tif')}`)).body).metadata()).toMatchObject({ format: 'png', width: W, height: H });
    const m = await readMaskFile((await http(`/api/mask?${q('crack', '000.png')}`)).body);
    expect(m.channels).toBe(1);
    expect(m.data.reduce((n, v) => n + (v === 255 ? 1 : 0), 0)).toBe(80);
    expect(m.data.every((v) => v === 0 || v === 255)).toBe(true);
    expect((await http(`/api/mask?${q('crack', '001.png')}`)).status).toBe(404);
    // A damaged file: one line naming it, not a stack trace.
    const broken = join(category, 'test', 'zz-broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'bad.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]));
    try {
      const bad = await http(`/api/image?${q('zz-broken', 'bad.png')}`);
      expect(bad.status).toBe(422);
      expect(bad.body.toString().trim().split('\n')).toEqual([expect.stringMatching(/^422 cannot read 'bad\.png': /)]);
    } finally {
      rmSync(broken, { recursive: true });
    }
  });

  it('answers 403 to any Host but 127.0.0.1:PORT and localhost:PORT (DNS rebinding), on every path', async () => {
    for (const path of ['/', '/label.js', '/api/list', `/api/image?${q('crack', '000.png')}`]) {
      for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, '127.0.0.1', 'localhost', `127.0.0.1.evil.example:${port}`, null]) {
        const r = await http(path, { host });
        // No Host at all: Node's HTTP/1.1 server answers 400 before we see the request.
        expect([path, host, r.status]).toEqual([path, host, host === null ? 400 : 403]);
        expect(r.body.toString()).not.toContain('PNG');
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) expect([path, host, (await http(path, { host })).status]).toEqual([path, host, 200]);
    }
  });

  it('reads and writes only what the listing holds: 404 for paths that try to leave it', async () => {
    const names: [string, string][] = [
      ['crack', '../../../secret.png'],
      ['..', '../secret.png'],
      ['crack', 'link.png'],
      ['crack', 'notes.txt'],
      ['good', '000.png'],
      ['../train', 'good/000.png'],
      ['crack', '000.png/'],
    ];
    for (const [type, name] of names) {
      for (const kind of ['image', 'mask']) {
        const r = await http(`/api/${kind}?${q(type, name)}`);
        expect([kind, type, name, r.status]).toEqual([kind, type, name, 404]);
        expect(r.body.toString()).not.toContain(SECRET);
      }
      expect((await saveMask(type, name, W, H, new Uint8Array(W * H), '&overwrite=true')).status).toBe(404);
    }
    for (const path of ['/../secret.png', '/%2e%2e/secret.png', '/api/../../secret.png', '/api/image', '/nothing']) expect([path, (await http(path)).status]).toEqual([path, 404]);
    expect(existsSync(join(category, 'ground_truth', 'good'))).toBe(false);
    expect(readFileSync(join(dir, 'secret.png'), 'utf8')).toBe(SECRET);
  });

  it('never overwrites a mask without overwrite=true (409, file unchanged), and checks size, type and Origin', async () => {
    const before = readFileSync(existingMask);
    const full = new Uint8Array(W * H).fill(1);
    const refusals: [Promise<Reply>, number][] = [
      [saveMask('crack', '000.png', W, H, full), 409],
      [saveMask('crack', '000.png', W, H, full, '&overwrite=1'), 409],
      [saveMask('crack', '000.png', H, W, full, '&overwrite=true'), 400],
      [saveMask('crack', '000.png', W, H, full.subarray(1), '&overwrite=true'), 400],
      [saveMask('crack', '000.png', W, H, full, '&overwrite=true', { 'content-type': 'text/plain' }), 415],
      [saveMask('crack', '000.png', W, H, full, '&overwrite=true', { origin: 'http://evil.example' }), 403],
      [saveMask('crack', '000.png', W, H, full, '&overwrite=true', { origin: 'null' }), 403],
      [saveMask('crack', '000.png', W, H, full, '&overwrite=true', { origin: `http://127.0.0.1:${port + 1}` }), 403],
      [http(`/api/mask?${q('crack', '000.png')}&width=${W}&height=${H}&overwrite=true`, { method: 'POST', host: `evil.example:${port}`, headers: { 'content-type': 'application/octet-stream' }, body: full }), 403],
    ];
    for (const [reply, status] of refusals) expect((await reply).status).toBe(status);
    expect(readFileSync(existingMask).equals(before)).toBe(true);
    expect((await http('/api/list', { method: 'POST' })).status).toBe(405);

    // With overwrite=true from our own page: written single channel, any non-zero byte as 255.
    const pixels = new Uint8Array(W * H);
    pixels.fill(7, 0, W); // the first row
    const ok = await saveMask('crack', '000.png', W, H, pixels, '&overwrite=true', { origin: `http://localhost:${port}` });
    expect([ok.status, JSON.parse(ok.body.toString())]).toEqual([200, { path: 'ground_truth/crack/000_mask.png' }]);
    const written = await readMaskFile(existingMask);
    expect([written.channels, written.width, written.height]).toEqual([1, W, H]);
    expect([...written.data].map((v, i) => v === (i < W ? 255 : 0)).every(Boolean)).toBe(true);
  });

  it('writes a new mask at the upright size of a sideways JPEG, creating ground_truth/<type>/', async () => {
    const [w, h] = [SIDEWAYS.height, SIDEWAYS.width];
    expect((await saveMask('hole', '000.jpg', SIDEWAYS.width, SIDEWAYS.height, new Uint8Array(w * h))).status).toBe(400);
    const pixels = new Uint8Array(w * h);
    pixels[w * h - 1] = 1; // the last pixel, upright
    const r = await saveMask('hole', '000.jpg', w, h, pixels);
    expect(r.status, r.body.toString()).toBe(200);
    const written = await readMaskFile(join(category, 'ground_truth', 'hole', '000_mask.png'));
    expect([written.channels, written.width, written.height, written.data[w * h - 1], written.data[0]]).toEqual([1, w, h, 255, 0]);
    const listing = JSON.parse((await http('/api/list')).body.toString()) as { images: { name: string; mask: string | null }[] };
    expect(listing.images.find((i) => i.name === '000.jpg')?.mask).toBe('000_mask.png');
  });
});

/** Page coordinates of image pixel (x, y) through the canvas's box as drawn (any zoom, any pan). */
async function pagePoint(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await (await page.$('#image'))!.boundingBox())!;
  return { x: box.x + (x * box.width) / W, y: box.y + (y * box.height) / H };
}

/** A mouse stroke from image pixel a to b (positions, fractional) in `steps` moves. */
async function drag(page: Page, a: [number, number], b: [number, number], steps = 12): Promise<void> {
  const from = await pagePoint(page, ...a);
  const to = await pagePoint(page, ...b);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps });
  await page.mouse.up();
}

const labelState = (page: Page, expression: string) => page.evaluate(`(() => { const s = window.gpusegLabel; return ${expression}; })()`);
const maskSum = (page: Page) => labelState(page, 's.mask.reduce((n, v) => n + v, 0)') as Promise<number>;

/** Distance from pixel (x, y)'s centre to the segment a-b. */
function distance(x: number, y: number, a: [number, number], b: [number, number]): number {
  const [px, py] = [x + 0.5 - a[0], y + 0.5 - a[1]];
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - t * dx, py - t * dy);
}

/** Pixels of a 0/255 mask that are wrong for a stroke of radius r: inside r - 1 must be 255, beyond r + 1 must be 0. */
function strokeErrors(data: Buffer, a: [number, number], b: [number, number], r: number, inside: 255 | 0): string[] {
  const errors: string[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const d = distance(x, y, a, b);
      const v = data[y * W + x];
      if (d <= r - 1 && v !== inside) errors.push(`(${x}, ${y}) at ${d.toFixed(1)} px is ${v}`);
    }
  }
  return errors;
}

describe('gpuseg label: the page in headless Chromium', () => {
  it('paints a brush stroke and an eraser stroke where the mouse went, and saves them as 0/255 masks', async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run scripts/install-chromium.sh`).toBe(true);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, ignoreDefaultArgs: true, pipe: true, args: [...CHROMIUM_FLAGS, `--user-data-dir=${join(dir, 'chromium')}`, 'about:blank'] });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const dialogs: string[] = [];
    let acceptDialogs = true;
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void (acceptDialogs ? d.accept() : d.dismiss());
    });
    await page.setViewport({ width: 1000, height: 720, deviceScaleFactor: 1 });
    await page.goto(server!.url, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
    const item = (type: string, name: string) => `button.item[data-type="${type}"][data-name="${name}"]`;
    await page.waitForSelector(item('crack', '001.png'), { timeout: PAGE_TIMEOUT_MS });
    // The list marks which images have masks.
    expect(await page.$eval(item('crack', '000.png'), (e) => e.classList.contains('has-mask'))).toBe(true);
    expect(await page.$eval(item('crack', '001.png'), (e) => e.classList.contains('has-mask'))).toBe(false);
    expect(await page.$(item('good', '000.png'))).toBeNull();

    // An image with a mask opens with it, pixel for pixel.
    const onDisk = await readMaskFile(existingMask);
    await page.click(item('crack', '000.png'));
    await page.waitForFunction('window.gpusegLabel.opened === 1', { timeout: PAGE_TIMEOUT_MS });
    const shown = (await labelState(page, 'Array.from(s.mask)')) as number[];
    expect(shown.map((v) => v * 255)).toEqual([...onDisk.data]);
    expect(shown.filter((v) => v === 1).length).toBeGreaterThan(0);

    await page.click(item('crack', '001.png'));
    await page.waitForFunction('window.gpusegLabel.opened === 2', { timeout: PAGE_TIMEOUT_MS });
    expect(await labelState(page, '[s.zoom, s.width, s.height, s.mask.length]')).toEqual([1, W, H, W * H]);
    const box = (await (await page.$('#image'))!.boundingBox())!;
    expect([box.width, box.height]).toEqual([W, H]); // zoom 1: one image pixel per CSS pixel
    await page.$eval('#size', (e) => {
      (e as HTMLInputElement).value = '9';
      e.dispatchEvent(new Event('input'));
    });
    const brush: [[number, number], [number, number]] = [[8, 20], [56, 20]];
    await drag(page, ...brush);
    await page.click('#save');
    await page.waitForFunction('window.gpusegLabel.saves === 1', { timeout: PAGE_TIMEOUT_MS });
    expect(dialogs).toEqual([]); // no mask before: nothing to confirm
    const maskFile = join(category, 'ground_truth', 'crack', '001_mask.png');
    const first = await readMaskFile(maskFile);
    expect([first.channels, first.width, first.height]).toEqual([1, W, H]);
    expect(first.data.every((v) => v === 0 || v === 255)).toBe(true);
    expect(strokeErrors(first.data, ...brush, 4.5, 255)).toEqual([]);
    // Far from the stroke nothing is painted: every 255 lies within the brush's radius (+1 for rounding).
    const stray = [...first.data].flatMap((v, i) => (v === 255 && distance(i % W, Math.floor(i / W), ...brush) > 5.5 ? [i] : []));
    expect(stray).toEqual([]);
    expect(first.data.filter((v) => v === 255).length).toBeGreaterThan(48 * 8);
    expect(await page.$eval(item('crack', '001.png'), (e) => e.classList.contains('has-mask'))).toBe(true);

    // The eraser across the middle, saved over the mask once the page's confirm() is accepted.
    await page.click('#tool-eraser');
    const eraser: [[number, number], [number, number]] = [[32, 8], [32, 34]];
    await drag(page, ...eraser);
    await page.click('#save');
    await page.waitForFunction('window.gpusegLabel.saves === 2', { timeout: PAGE_TIMEOUT_MS });
    expect(dialogs).toHaveLength(1);
    expect(dialogs[0]).toMatch(/overwrite the existing mask of crack\/001\.png/i);
    const second = await readMaskFile(maskFile);
    expect(second.data.every((v) => v === 0 || v === 255)).toBe(true);
    expect(strokeErrors(second.data, ...eraser, 4.5, 0)).toEqual([]);
    // The rest of the brush stroke is still there.
    for (const x of [12, 20, 44, 52]) expect([x, second.data[20 * W + x]]).toEqual([x, 255]);

    // Undo: 25 single clicks, then 25 Ctrl+Z, gives back the saved mask exactly.
    await page.click('#tool-brush');
    const saved = await maskSum(page);
    for (let i = 0; i < 25; i++) {
      const p = await pagePoint(page, 2 + (i % 12) * 5, 40 + (i % 2) * 4);
      await page.mouse.click(p.x, p.y);
    }
    expect(await maskSum(page)).toBeGreaterThan(saved);
    await page.keyboard.down('Control');
    for (let i = 0; i < 24; i++) await page.keyboard.press('z');
    await page.keyboard.up('Control');
    await page.click('#undo');
    expect(await maskSum(page)).toBe(saved);
    expect(await labelState(page, 's.version === s.savedVersion')).toBe(true);

    // Zoomed in with the wheel, a click still lands on the image pixel under the pointer.
    const centre = await pagePoint(page, 32, 24);
    await page.mouse.move(centre.x, centre.y);
    await page.mouse.wheel({ deltaY: -400 });
    await page.waitForFunction('window.gpusegLabel.zoom > 1.5');
    const zoomed = (await (await page.$('#image'))!.boundingBox())!;
    expect(zoomed.width / W).toBeCloseTo((await labelState(page, 's.zoom')) as number, 5);
    await page.$eval('#size', (e) => {
      (e as HTMLInputElement).value = '1';
      e.dispatchEvent(new Event('input'));
    });
    const target = await pagePoint(page, 30.5, 22.5);
    await page.mouse.click(target.x, target.y);
    expect(await labelState(page, `[s.mask[22 * ${W} + 30], s.mask.reduce((n, v) => n + v, 0)]`)).toEqual([1, saved + 1]);

    // Declining the confirm() keeps the file as it was.
    acceptDialogs = false;
    const before = readFileSync(maskFile);
    await page.click('#save');
    await page.waitForFunction(`document.getElementById('status').textContent.startsWith('Not saved')`);
    expect(dialogs).toHaveLength(2);
    expect(readFileSync(maskFile).equals(before)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('the gpuseg label and serve commands', () => {
  /** Starts a serving command with --port 0 --json and resolves with the URL it prints. */
  function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((done, reject) => {
      let out = '';
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += String(d)));
      child.stdout!.on('data', (d: Buffer) => {
        out += String(d);
        if (out.includes('\n')) done({ child, url: (JSON.parse(out.split('\n')[0]!) as { url: string }).url });
      });
      child.once('exit', (code) => reject(new Error(`gpuseg ${args[0]} exited with ${code}: ${err}`)));
    });
  }
  const exited = (child: ChildProcess): Promise<number | null> => (child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((done) => child.once('exit', (code) => done(code))));

  it('label prints its URL, serves the listing, refuses other Hosts and stops on SIGTERM with 0', async () => {
    const { child, url } = await start(['label', category]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const p = Number(new URL(url).port);
    expect((await http('/api/list', { port: p })).status).toBe(200);
    expect((await http('/api/list', { port: p, host: `attacker.example:${p}` })).status).toBe(403);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('serve answers 403 to a Host other than its own', async () => {
    const web = join(dir, 'web');
    mkdirSync(web);
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>x</title>');
    const { child, url } = await start(['serve', web]);
    const p = Number(new URL(url).port);
    try {
      for (const host of [`127.0.0.1:${p}`, `localhost:${p}`]) expect([host, (await http('/', { port: p, host })).status]).toEqual([host, 200]);
      for (const host of [`rebound.example:${p}`, '127.0.0.1', `localhost:${p + 1}`]) {
        const r = await http('/', { port: p, host });
        expect([host, r.status]).toEqual([host, 403]);
        expect(r.body.toString()).not.toContain('<title>');
      }
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });

  it('label refuses a missing folder, a file, a folder without test/ and one without defect images: one line, exit 2', () => {
    const empty = join(dir, 'empty');
    mkdirSync(join(empty, 'test', 'good'), { recursive: true });
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    const cases: [string, RegExp][] = [
      [join(dir, 'none'), /category folder '.*none' not found/],
      [join(dir, 'secret.png'), /is a file, not a category folder/],
      [bare, /has no test\/ folder/],
      [empty, /has no defect images in test\/<type>\//],
    ];
    for (const [folder, message] of cases) {
      const r = gpuseg(['label', folder, '--port', '0']);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});
