// The browser check itself: on a page with a drawn and an empty chart, a picture, a blank picture, a
// broken image and an external one, it must flag exactly the bad ones. Without this, a checker that
// measured nothing would pass every report.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectPage, nonBlankFraction, renderProblems, standsOutFraction, type PageInspection } from './browser.js';

const SIZE = 32;

async function pngUri(pixel: (x: number, y: number) => [number, number, number]): Promise<string> {
  const data = Buffer.alloc(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) data.set(pixel(x, y), (y * SIZE + x) * 3);
  const png = await sharp(data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function chart(id: string, drawn: boolean): string {
  const line = drawn ? '<path d="M20 150 L300 30" stroke="#0072B2" stroke-width="2" fill="none"/>' : '';
  return (
    `<svg id="${id}" class="chart" width="320" height="200" viewBox="0 0 320 200">` +
    '<rect class="plot" x="10" y="10" width="300" height="180" fill="#fff"/>' +
    '<line x1="10" y1="100" x2="310" y2="100" stroke="#e6e8eb"/>' + // a grid line is not data
    `${line}</svg>`
  );
}

let root: string;
let inspection: PageInspection;
const selectors = ['#drawn rect.plot', '#empty rect.plot', 'img.picture', 'img.blank'];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpuseg-browser-'));
  const picture = await pngUri((x, y) => (x < SIZE / 2 ? [200, 40, 40] : [40, 40, 200 - y]));
  const blank = await pngUri(() => [255, 255, 255]);
  const html =
    '<!DOCTYPE html><html><body style="background:#fff">' +
    chart('drawn', true) +
    chart('empty', false) +
    `<img class="picture" src="${picture}" width="96" height="96" alt="picture" style="border:1px solid #888">` +
    `<img class="blank" src="${blank}" width="96" height="96" alt="blank" style="border:1px solid #888">` +
    '<img class="broken" src="data:image/png;base64,AAAA" width="96" height="96" alt="broken">' +
    '<img class="remote" src="http://127.0.0.1:9/remote.png" width="96" height="96" alt="remote">' +
    '</body></html>';
  await writeFile(join(root, 'page.html'), html);
  inspection = await inspectPage(join(root, 'page.html'), selectors);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('inspectPage', () => {
  it('measures drawn pixels inside each element, and none in empty or blank ones', () => {
    const fraction = (selector: string) => inspection.elements.find((e) => e.selector === selector)!.nonBlankFraction;
    expect(fraction('#drawn rect.plot')).toBeGreaterThan(0.003);
    expect(fraction('#empty rect.plot')).toBe(0);
    expect(fraction('img.picture')).toBeGreaterThan(0.4);
    // Measured inside the border, so the border of a blank image does not count as drawn.
    expect(fraction('img.blank')).toBe(0);
    expect(inspection.screenshot.subarray(1, 4).toString()).toBe('PNG');
  });

  it('reports the broken and the external image, and the blank elements', () => {
    expect(inspection.brokenImages.map((i) => i.alt).sort()).toEqual(['broken', 'remote']);
    expect(inspection.externalRequests).toEqual(['http://127.0.0.1:9/remote.png']);
    const problems = renderProblems(inspection, { '#drawn rect.plot': 0.003, '#empty rect.plot': 0.003, 'img.blank': 0, '#absent': 0 });
    expect(problems.some((p) => p.startsWith("'#empty rect.plot' #0 is blank"))).toBe(true);
    expect(problems.some((p) => p.startsWith("'img.blank' #0 is blank"))).toBe(true);
    expect(problems).toContain("'#absent' matched nothing");
    expect(problems.some((p) => p.startsWith("broken image 'broken'"))).toBe(true);
    expect(problems).toContain('external request http://127.0.0.1:9/remote.png');
    expect(problems.some((p) => p.includes('#drawn'))).toBe(false);
  });
});

describe('nonBlankFraction', () => {
  it('counts pixels away from the most common colour, within the box', () => {
    // 4x2: six white pixels, one black, one light grey (within the tolerance).
    const white = [255, 255, 255];
    const rgb = Uint8Array.from([...white, ...white, ...white, 0, 0, 0, ...white, ...white, ...white, 240, 240, 240]);
    expect(nonBlankFraction(rgb, 4, 2, { x: 0, y: 0, width: 4, height: 2 })).toBe(1 / 8);
    expect(nonBlankFraction(rgb, 4, 2, { x: 0, y: 0, width: 3, height: 2 })).toBe(0);
    expect(nonBlankFraction(rgb, 4, 2, { x: 0, y: 0, width: 0, height: 2 })).toBe(0);
  });
});

describe('standsOutFraction', () => {
  it('counts pixels away from the page around the box: a low-contrast picture stands out, a blank one does not', () => {
    // 8x8 white page; the 4x4 box at (2, 2) holds a dim two-tone texture (120 and 140: within the
    // tolerance of each other, so nonBlankFraction sees only the white pixel) with one pixel left white.
    const size = 8;
    const rgb = new Uint8Array(size * size * 3).fill(255);
    const box = { x: 2, y: 2, width: 4, height: 4 };
    for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) rgb.fill((x + y) % 2 ? 120 : 140, (y * size + x) * 3, (y * size + x) * 3 + 3);
    rgb.fill(255, (2 * size + 2) * 3, (2 * size + 2) * 3 + 3);
    expect(nonBlankFraction(rgb, size, size, box)).toBe(1 / 16); // only the white pixel
    expect(standsOutFraction(rgb, size, size, box)).toBe(15 / 16);
    const blank = new Uint8Array(size * size * 3).fill(255);
    expect(standsOutFraction(blank, size, size, box)).toBe(0);
  });
});
