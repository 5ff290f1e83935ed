// The run and experiment reports, written from fixture folders, checked as text (self-contained, the
// promised sections and numbers) and then in a real headless Chromium (charts drawn, images decoded).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeExperimentReport, writeRunReport } from '../../src/report/index.js';
import { reportProblems, type PageInspection } from './browser.js';
import { writeExperimentFixture, writeRunFixture } from './fixtures.js';

/** What would make a report reach beyond its own file. */
const EXTERNAL_PATTERNS: readonly [string, RegExp][] = [
  ['http(s) URL', /https?:/i],
  ['protocol-relative src', /src\s*=\s*["']?\/\//i],
  ['script', /<script/i],
  ['link element', /<link/i],
  ['CSS url()', /url\(/i],
  ['CSS @import', /@import/i],
];

function externalReferences(html: string): string[] {
  const found = EXTERNAL_PATTERNS.filter(([, pattern]) => pattern.test(html)).map(([name]) => name);
  // Every image is inline.
  for (const [, src] of html.matchAll(/<img[^>]*\ssrc="([^"]*)"/g)) {
    if (!src!.startsWith('data:image/png;base64,')) found.push(`img src ${src!.slice(0, 40)}`);
  }
  return found;
}

/** The texts that `html` lacks: a failure names them instead of printing the whole page. */
function missing(html: string, texts: readonly string[]): string[] {
  return texts.filter((t) => !html.includes(t));
}

/** The texts that `html` has but should not. */
function present(html: string, texts: readonly string[]): string[] {
  return texts.filter((t) => html.includes(t));
}

/** A 2-pixel curve across a plot area covers about 1% of it. */
const LINE_FRACTION = 0.005;

function chartFractions(inspection: PageInspection): number[] {
  return inspection.elements.filter((e) => e.selector === 'svg.chart rect.plot').map((e) => e.nonBlankFraction);
}

let root: string;
let runReport: string;
let bareRunReport: string;
let experimentReport: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpuseg-report-'));
  await writeRunFixture(join(root, 'run'));
  await writeRunFixture(join(root, 'bare'), { evaluate: false, nbr: false, cropPaste: false });
  await writeExperimentFixture(join(root, 'exp'));
  runReport = await writeRunReport(join(root, 'run'));
  bareRunReport = await writeRunReport(join(root, 'bare'));
  experimentReport = await writeExperimentReport(join(root, 'exp'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('run report', () => {
  it('is one self-contained file with the settings, curves, metrics and images', async () => {
    expect(runReport).toBe(join(root, 'run', 'report.html'));
    const html = await readFile(runReport, 'utf8');
    expect(externalReferences(html)).toEqual([]);
    expect(missing(html, ['fabric', '5-shot', 'full', 'on (near)', 'on (layer 3)', '64 x 64', 'gpu'])).toEqual([]);
    // A line per term, the paste weights and the validation rate.
    expect(html.match(/<svg class="chart"/g)).toHaveLength(3);
    expect(missing(html, ['(log scale)', '1 line(s) of log.jsonl did not parse'])).toEqual([]);
    // The metric table: each type, then overall; an undefined AP shows as a dash.
    expect(/<td>hole<\/td>[\s\S]*<td>scratch<\/td>[\s\S]*<td>overall<\/td>/.test(html)).toBe(true);
    expect(missing(html, ['<td>—</td>', 'threshold the probability at 0.5', 'the run&#39;s final weights (step 400)'])).toEqual([]);
    // Four images have probability maps (three views each); the fifth has none and is not drawn.
    expect(html.match(/<img /g)).toHaveLength(12);
    expect(present(html, ['class="missing"'])).toEqual([]);
    expect(html.indexOf('000.png')).toBeLessThan(html.indexOf('001.png'));
  });

  it('says when there is no eval.json and shows the curves only', async () => {
    const html = await readFile(bareRunReport, 'utf8');
    expect(externalReferences(html)).toEqual([]);
    expect(missing(html, ['No eval.json in this run folder', 'No pasted samples were logged', 'baseline'])).toEqual([]);
    expect(present(html, ['<img ', 'Evaluation images'])).toEqual([]);
  });

  it('renders its charts and images in headless Chromium', async () => {
    const { problems, inspection } = await reportProblems(runReport);
    expect(problems).toEqual([]);
    // Lines across the plot, not a stray dot: the fixture's charts are all curves.
    expect(chartFractions(inspection)).toHaveLength(3);
    expect(chartFractions(inspection).filter((f) => f < LINE_FRACTION)).toEqual([]);
    expect(inspection.images).toHaveLength(12);
    const bare = await reportProblems(bareRunReport, false);
    expect(bare.problems).toEqual([]);
  });
});

describe('experiment report', () => {
  it('is one self-contained file with the summary, the charts and every cell', async () => {
    expect(experimentReport).toBe(join(root, 'exp', 'report.html'));
    const html = await readFile(experimentReport, 'utf8');
    expect(externalReferences(html)).toEqual([]);
    // Summary: mean ± std with two seeds, the mean alone with one; the 1-shot best (full) in bold.
    expect(missing(html, ['<td class="best">0.430 ± 0.020</td>', '<td>0.320 ± 0.020</td>', '<td>0.400</td>'])).toEqual([]);
    // Bars per variant and shot count; the missing one (full, 2 shots) is marked.
    expect(html.match(/<rect class="bar"/g)).toHaveLength(3);
    expect(missing(html, ['n/a'])).toEqual([]);
    // Losses: total, seg, bg, feat at each of the two shot counts; paste weights at each.
    expect(html.match(/<svg class="chart"/g)).toHaveLength(1 + 8 + 2);
    expect(missing(html, ['Unfinished cells', 'full · 2-shot · split 0 — not finished'])).toEqual([]);
    // Six cells in <details>, only the first open; five finished cells with four drawn images each.
    expect(html.match(/<details/g)).toHaveLength(6);
    expect(html.match(/<details open/g)).toHaveLength(1);
    expect(html.match(/<img /g)).toHaveLength(5 * 4 * 3);
    expect(present(html, ['class="missing"'])).toEqual([]);
  });

  it('renders its charts and every cell\'s images in headless Chromium', async () => {
    const { problems, inspection } = await reportProblems(experimentReport);
    expect(problems).toEqual([]);
    expect(chartFractions(inspection)).toHaveLength(11);
    expect(chartFractions(inspection).filter((f) => f < LINE_FRACTION)).toEqual([]);
  });
});
