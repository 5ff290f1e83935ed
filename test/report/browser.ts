// Opens an HTML file in Debian's headless Chromium (through puppeteer-core; no browser is ever
// downloaded), takes a full-page screenshot, and measures how much is drawn inside chosen elements:
// the fraction of pixels in each element's content box that differ from that box's most common colour.
// An empty chart or a blank or broken image scores zero. Reusable on any report (the lead runs it on a
// real experiment's report).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import sharp from 'sharp';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The network is closed on the test machines: without the background-networking flags Chromium floods
 * the log with refused connections. No sandbox: CI runs as root, where Chromium refuses to sandbox.
 */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];
const VIEWPORT = { width: 1280, height: 900, deviceScaleFactor: 1 };
const LOAD_TIMEOUT_MS = 60_000;
/** A pixel counts as drawn when a channel differs from the box's background by more than this (of 255):
 * above anti-aliasing fringes and the charts' light grid (#e6e8eb on white differs by 25). */
export const DRAWN_TOLERANCE = 40;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ElementMeasure {
  selector: string;
  /** Index among the selector's matches, in document order. */
  index: number;
  /** The content box (inside border and padding) in page pixels. */
  box: Box;
  /** Fraction of the box's pixels that differ from its most common colour; 0 for an empty box. */
  nonBlankFraction: number;
  /** Fraction of the box's pixels that differ from the page just around it (see standsOutFraction). */
  standsOutFraction: number;
}

export interface ImageState {
  alt: string;
  /** The first characters of src (data URIs are long). */
  src: string;
  naturalWidth: number;
  complete: boolean;
}

export interface PageInspection {
  screenshot: Buffer;
  width: number;
  height: number;
  elements: ElementMeasure[];
  images: ImageState[];
  /** Images that did not decode (naturalWidth 0). */
  brokenImages: ImageState[];
  /** Requests for anything but the file itself and data: URIs: a self-contained page makes none. */
  externalRequests: string[];
  /** Uncaught page errors and console errors. */
  errors: string[];
}

export interface InspectOptions {
  /** Open every <details> before measuring, so collapsed content is rendered too (default true). */
  expandDetails?: boolean;
  tolerance?: number;
}

const SRC_PREVIEW = 60;

/**
 * Runs in the page: opens <details> if asked, then each match's content box in page coordinates and the
 * state of every <img>. Kept as source text because transpilers (tsx, vite) wrap nested functions in
 * helpers such as __name that do not exist inside the page.
 */
const MEASURE_IN_PAGE = `(selectors, expand) => {
  if (expand) document.querySelectorAll('details').forEach((d) => { d.open = true; });
  const boxes = selectors.flatMap((selector) =>
    Array.from(document.querySelectorAll(selector)).map((element, index) => {
      const rect = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      const px = (name) => parseFloat(style.getPropertyValue(name)) || 0;
      const left = px('border-left-width') + px('padding-left');
      const top = px('border-top-width') + px('padding-top');
      const right = px('border-right-width') + px('padding-right');
      const bottom = px('border-bottom-width') + px('padding-bottom');
      return {
        selector,
        index,
        box: {
          x: rect.left + window.scrollX + left,
          y: rect.top + window.scrollY + top,
          width: Math.max(0, rect.width - left - right),
          height: Math.max(0, rect.height - top - bottom),
        },
      };
    }),
  );
  const images = Array.from(document.images).map((img) => ({
    alt: img.alt,
    src: img.getAttribute('src') || '',
    naturalWidth: img.naturalWidth,
    complete: img.complete,
  }));
  return { boxes, images };
}`;

/** Width in px of the ring just outside a box whose colour is the page behind the element. */
const RING = 3;

/** A box clipped to the screenshot, as integer pixel bounds [x0, x1) x [y0, y1); null when empty. */
function clip(box: Box, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } | null {
  const x0 = Math.max(0, Math.ceil(box.x));
  const y0 = Math.max(0, Math.ceil(box.y));
  const x1 = Math.min(width, Math.floor(box.x + box.width));
  const y1 = Math.min(height, Math.floor(box.y + box.height));
  return x1 > x0 && y1 > y0 ? { x0, y0, x1, y1 } : null;
}

type Bounds = NonNullable<ReturnType<typeof clip>>;

/** The most common colour (0xRRGGBB) of the pixels in `area`, leaving out those in `hole`. */
function commonestColour(rgb: Uint8Array, width: number, area: Bounds, hole?: Bounds): number {
  const counts = new Map<number, number>();
  for (let y = area.y0; y < area.y1; y++) {
    for (let x = area.x0; x < area.x1; x++) {
      if (hole && x >= hole.x0 && x < hole.x1 && y >= hole.y0 && y < hole.y1) continue;
      const p = (y * width + x) * 3;
      const key = (rgb[p]! << 16) | (rgb[p + 1]! << 8) | rgb[p + 2]!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  let colour = 0;
  let most = -1;
  for (const [key, n] of counts) if (n > most) [colour, most] = [key, n];
  return colour;
}

/** Fraction of the pixels in `b` farther than `tolerance` (in any channel) from `colour`. */
function fractionAway(rgb: Uint8Array, width: number, b: Bounds, colour: number, tolerance: number): number {
  const [r, g, bl] = [(colour >> 16) & 255, (colour >> 8) & 255, colour & 255];
  let away = 0;
  for (let y = b.y0; y < b.y1; y++) {
    for (let x = b.x0; x < b.x1; x++) {
      const p = (y * width + x) * 3;
      if (Math.max(Math.abs(rgb[p]! - r), Math.abs(rgb[p + 1]! - g), Math.abs(rgb[p + 2]! - bl)) > tolerance) away++;
    }
  }
  return away / ((b.x1 - b.x0) * (b.y1 - b.y0));
}

/** Fraction of pixels in the box that differ from its most common colour by more than `tolerance`. */
export function nonBlankFraction(rgb: Uint8Array, width: number, height: number, box: Box, tolerance = DRAWN_TOLERANCE): number {
  const b = clip(box, width, height);
  return b ? fractionAway(rgb, width, b, commonestColour(rgb, width, b), tolerance) : 0;
}

/**
 * Fraction of the box's pixels that differ by more than `tolerance` from the page around it (the
 * commonest colour of a RING-px ring just outside): how much of a picture shows. A low-contrast texture
 * still stands out from the card it sits on, where nonBlankFraction (against the picture's own commonest
 * colour) would call it blank; a missing image shows the card through and scores about 0.
 */
export function standsOutFraction(rgb: Uint8Array, width: number, height: number, box: Box, tolerance = DRAWN_TOLERANCE): number {
  const b = clip(box, width, height);
  if (!b) return 0;
  const ring = { x0: Math.max(0, b.x0 - RING), y0: Math.max(0, b.y0 - RING), x1: Math.min(width, b.x1 + RING), y1: Math.min(height, b.y1 + RING) };
  return fractionAway(rgb, width, b, commonestColour(rgb, width, ring, b), tolerance);
}

/** Opens `htmlPath` in headless Chromium, screenshots the whole page and measures each selector's matches. */
export async function inspectPage(htmlPath: string, selectors: readonly string[], options: InspectOptions = {}): Promise<PageInspection> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/install-chromium.sh (or set CHROMIUM_PATH)`);
  const profile = await mkdtemp(join(tmpdir(), 'gpuseg-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, 'about:blank'],
    pipe: true,
    timeout: LOAD_TIMEOUT_MS,
  });
  try {
    const page = await browser.newPage();
    const url = pathToFileURL(resolve(htmlPath)).href;
    const externalRequests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => {
      const target = request.url();
      if (target !== url && !target.startsWith('data:') && target !== 'about:blank') externalRequests.push(target);
    });
    page.on('pageerror', (err) => errors.push(`page error: ${String(err)}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    await page.setViewport(VIEWPORT);
    await page.goto(url, { waitUntil: 'load', timeout: LOAD_TIMEOUT_MS });
    const measured = (await page.evaluate(`(${MEASURE_IN_PAGE})(${JSON.stringify(selectors)}, ${options.expandDetails ?? true})`)) as {
      boxes: Omit<ElementMeasure, 'nonBlankFraction' | 'standsOutFraction'>[];
      images: ImageState[];
    };
    const screenshot = Buffer.from(await page.screenshot({ fullPage: true, type: 'png' }));
    const { data, info } = await sharp(screenshot).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const elements = measured.boxes.map((m) => ({
      ...m,
      nonBlankFraction: nonBlankFraction(rgb, info.width, info.height, m.box, options.tolerance),
      standsOutFraction: standsOutFraction(rgb, info.width, info.height, m.box, options.tolerance),
    }));
    const images = measured.images.map((img) => ({ ...img, src: img.src.slice(0, SRC_PREVIEW) }));
    return {
      screenshot,
      width: info.width,
      height: info.height,
      elements,
      images,
      brokenImages: images.filter((img) => !img.complete || img.naturalWidth === 0),
      externalRequests,
      errors,
    };
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** A minimum fraction of one of the two measures (a bare number means nonBlankFraction). */
export interface MinFraction {
  min: number;
  measure: 'nonBlankFraction' | 'standsOutFraction';
}

/**
 * Everything that makes a rendered page wrong, as lines (empty when it is fine): a selector that matched
 * nothing (of those `required`), an element with less drawn than its selector's minimum fraction, a broken image, an external
 * request, a page error.
 */
export function renderProblems(
  inspection: PageInspection,
  minFractions: Readonly<Record<string, number | MinFraction>>,
  required: readonly string[] = Object.keys(minFractions),
): string[] {
  const problems: string[] = [];
  for (const selector of required) {
    if (!inspection.elements.some((e) => e.selector === selector)) problems.push(`'${selector}' matched nothing`);
  }
  for (const e of inspection.elements) {
    const spec = minFractions[e.selector] ?? 0;
    const { min, measure } = typeof spec === 'number' ? { min: spec, measure: 'nonBlankFraction' as const } : spec;
    if (e[measure] <= min) {
      const { x, y, width, height } = e.box;
      const what = measure === 'nonBlankFraction' ? 'drawn' : 'standing out from the page';
      problems.push(
        `'${e.selector}' #${e.index} is blank: ${(e[measure] * 100).toFixed(2)}% ${what}, needs over ${min * 100}% ` +
          `(${Math.round(width)}x${Math.round(height)} at ${Math.round(x)},${Math.round(y)})`,
      );
    }
  }
  for (const img of inspection.brokenImages) problems.push(`broken image '${img.alt}' (${img.src}...)`);
  for (const url of inspection.externalRequests) problems.push(`external request ${url}`);
  problems.push(...inspection.errors);
  return problems;
}

const CHART_SELECTOR = 'svg.chart rect.plot';
/**
 * What a gpuseg report must show, by selector: the plot area of every chart holds something drawn (the
 * light grid does not count; a 2-pixel line across the plot is about 1% of it, but a chart of a single
 * validation point is one dot, 0.03%, so the bar is a few pixels), every image and prediction is a picture
 * that stands out from the card (most of its pixels: a low-contrast texture is still a picture), and the
 * ground truth of every defect image shows its defect (any pixel: a real defect can be tiny).
 */
export const REPORT_MIN_FRACTIONS: Readonly<Record<string, number | MinFraction>> = {
  [CHART_SELECTOR]: 0.0001,
  '.sample img.image': { min: 0.5, measure: 'standsOutFraction' },
  '.sample img.prediction': { min: 0.5, measure: 'standsOutFraction' },
  '.sample.defect img.truth': 0,
};

/** A card whose pictures could not be made (an unreadable image file) shows this instead of them. */
const UNDRAWN_SAMPLE = '.sample .missing';

/**
 * Opens a report (run or experiment) and lists what did not render; [] when everything did. Charts must
 * be there; evaluation images too unless `expectImages` is false (a run without eval.json); no card may
 * stand in for pictures that could not be made.
 */
export async function reportProblems(
  htmlPath: string,
  expectImages = true,
): Promise<{ problems: string[]; inspection: PageInspection }> {
  const selectors = Object.keys(REPORT_MIN_FRACTIONS);
  const inspection = await inspectPage(htmlPath, [...selectors, UNDRAWN_SAMPLE]);
  const required = expectImages ? selectors : [CHART_SELECTOR];
  const undrawn = inspection.elements.filter((e) => e.selector === UNDRAWN_SAMPLE);
  const measured = { ...inspection, elements: inspection.elements.filter((e) => e.selector !== UNDRAWN_SAMPLE) };
  const problems = renderProblems(measured, REPORT_MIN_FRACTIONS, required);
  if (undrawn.length > 0) problems.push(`${undrawn.length} evaluation image(s) could not be drawn ('${UNDRAWN_SAMPLE}')`);
  return { problems, inspection };
}
