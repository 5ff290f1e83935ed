// Inline SVG charts: a frame (plot area, light grid, ticks, axis titles, legend) and line charts on it.
// The plot area holds only the light grid and the data, so a browser test can tell an empty chart from a
// drawn one by the pixels inside it; ticks and labels sit outside it.
import { escapeHtml } from './html.js';
import { formatTick, logTicks, niceDomain, niceStep, niceTicks, type Point } from './numbers.js';

/** Okabe-Ito colours: distinguishable with the common colour-vision deficiencies, and on white. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'] as const;

/** Two charts side by side fit a 1280-pixel-wide window. */
export const CHART_WIDTH = 560;
export const CHART_HEIGHT = 300;
const MARGIN = { left: 64, right: 20, top: 12, bottom: 46 } as const;
const LEGEND_ROW = 20;
/** Width of a legend label character at the 12px font, to lay the legend out without measuring text. */
const LEGEND_CHAR_WIDTH = 7;
const LEGEND_SWATCH = 22;
const LEGEND_GAP = 18;
const TICK_LENGTH = 4;
const X_TICKS = 6;
const Y_TICKS = 5;
/** A log y axis pays off only when the data span at least a decade; below that it has too few ticks. */
const LOG_MIN_RATIO = 10;
/** Room above and below the data on a log axis, as a fraction of its span in decades. */
const LOG_PAD = 0.04;

export interface LegendEntry {
  name: string;
  color: string;
}

export interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Coordinates with one decimal: sub-pixel precision, half the bytes of full floats. */
export function coord(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

/** Lays the legend out in rows across the chart's width; returns the SVG and the height it takes. */
function legend(entries: readonly LegendEntry[]): { svg: string; height: number } {
  if (entries.length === 0) return { svg: '', height: 0 };
  const parts: string[] = [];
  let x = MARGIN.left;
  let row = 0;
  for (const entry of entries) {
    const width = LEGEND_SWATCH + 6 + entry.name.length * LEGEND_CHAR_WIDTH;
    if (x + width > CHART_WIDTH - MARGIN.right && x > MARGIN.left) {
      row++;
      x = MARGIN.left;
    }
    const y = MARGIN.top + row * LEGEND_ROW + LEGEND_ROW / 2;
    parts.push(
      `<line x1="${x}" y1="${y}" x2="${x + LEGEND_SWATCH}" y2="${y}" stroke="${entry.color}" stroke-width="4" stroke-linecap="round"/>`,
      `<text class="legend-label" x="${x + LEGEND_SWATCH + 6}" y="${y + 4}">${escapeHtml(entry.name)}</text>`,
    );
    x += width + LEGEND_GAP;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: (row + 1) * LEGEND_ROW + 6 };
}

/** The chart's outer SVG: title for screen readers, legend on top, plot area, axis titles. */
export function chartFrame(
  title: string,
  xLabel: string,
  yLabel: string,
  entries: readonly LegendEntry[],
  draw: (frame: Frame) => string,
): string {
  const key = legend(entries);
  const frame: Frame = {
    left: MARGIN.left,
    top: MARGIN.top + key.height,
    width: CHART_WIDTH - MARGIN.left - MARGIN.right,
    height: CHART_HEIGHT - MARGIN.top - key.height - MARGIN.bottom,
  };
  const middleY = frame.top + frame.height / 2;
  return [
    `<svg class="chart" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" role="img" aria-label="${escapeHtml(title)}">`,
    `<title>${escapeHtml(title)}</title>`,
    key.svg,
    `<rect class="plot" x="${frame.left}" y="${frame.top}" width="${frame.width}" height="${frame.height}" fill="#ffffff"/>`,
    draw(frame),
    `<text class="axis-title" x="${coord(frame.left + frame.width / 2)}" y="${CHART_HEIGHT - 8}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
    `<text class="axis-title" transform="translate(16 ${coord(middleY)}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
    '</svg>',
  ].join('');
}

/** Horizontal grid lines and left tick labels at the given values, mapped by `toY`. */
export function yAxis(frame: Frame, ticks: readonly number[], toY: (v: number) => number, label: (v: number) => string): string {
  const right = frame.left + frame.width;
  return ticks
    .map((t) => {
      const y = coord(toY(t));
      return (
        `<line class="grid" x1="${frame.left}" y1="${y}" x2="${right}" y2="${y}"/>` +
        `<line class="tick" x1="${frame.left - TICK_LENGTH}" y1="${y}" x2="${frame.left}" y2="${y}"/>` +
        `<text class="tick-label" x="${frame.left - TICK_LENGTH - 3}" y="${y}" dy="0.32em" text-anchor="end">${label(t)}</text>`
      );
    })
    .join('');
}

/** A tick label under the plot area at x, with its tick mark. */
export function xTick(frame: Frame, x: number, label: string): string {
  const bottom = frame.top + frame.height;
  const at = coord(x);
  return (
    `<line class="tick" x1="${at}" y1="${bottom}" x2="${at}" y2="${bottom + TICK_LENGTH}"/>` +
    `<text class="tick-label" x="${at}" y="${bottom + TICK_LENGTH + 13}" text-anchor="middle">${escapeHtml(label)}</text>`
  );
}

export interface Series {
  name: string;
  color: string;
  points: Point[];
  /** Dots at each point: for sparse series such as the validation rate. */
  markers?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** 'auto': log when every value is positive and they span at least a decade. */
  yScale?: 'linear' | 'log' | 'auto';
  /** Include this value in a linear y range (0 for rates and weights). */
  yInclude?: number;
}

function extent(values: readonly number[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** A line chart; null when no series has a point (the caller says so in words instead). */
export function lineChart(spec: LineChartSpec): string | null {
  const drawn = spec.series.filter((s) => s.points.length > 0);
  if (drawn.length === 0) return null;
  const xs = extent(drawn.flatMap((s) => s.points.map((p) => p.x)));
  let [yMin, yMax] = extent(drawn.flatMap((s) => s.points.map((p) => p.y)));
  const log = spec.yScale === 'log' || (spec.yScale === 'auto' && yMin > 0 && yMax / yMin >= LOG_MIN_RATIO);
  if (!log && spec.yInclude !== undefined) [yMin, yMax] = [Math.min(yMin, spec.yInclude), Math.max(yMax, spec.yInclude)];
  const [xLo, xHi] = xs[1] > xs[0] ? xs : [xs[0] - 1, xs[0] + 1];
  const yLabel = log ? `${spec.yLabel} (log scale)` : spec.yLabel;
  return chartFrame(spec.title, spec.xLabel, yLabel, drawn, (frame) => {
    const toX = (x: number) => frame.left + ((x - xLo) / (xHi - xLo)) * frame.width;
    let toY: (y: number) => number;
    let yTicks: number[];
    let yText: (v: number) => string;
    if (log) {
      const pad = Math.max(LOG_PAD * Math.log10(yMax / yMin), 0.05);
      const lo = Math.log10(yMin) - pad;
      const hi = Math.log10(yMax) + pad;
      toY = (y) => frame.top + frame.height - ((Math.log10(y) - lo) / (hi - lo)) * frame.height;
      yTicks = logTicks(10 ** lo, 10 ** hi);
      yText = (v) => formatTick(v);
    } else {
      const [lo, hi] = niceDomain(yMin, yMax, Y_TICKS);
      toY = (y) => frame.top + frame.height - ((y - lo) / (hi - lo)) * frame.height;
      yTicks = niceTicks(lo, hi, Y_TICKS);
      const step = niceStep(hi - lo, Y_TICKS);
      yText = (v) => formatTick(v, step);
    }
    const xStep = niceStep(xHi - xLo, X_TICKS);
    const xAxis = niceTicks(xLo, xHi, X_TICKS)
      .map((t) => xTick(frame, toX(t), formatTick(t, xStep)))
      .join('');
    const lines = drawn.map((s) => {
      const path = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${coord(toX(p.x))} ${coord(toY(p.y))}`).join('');
      const dots = s.markers || s.points.length === 1
        ? s.points.map((p) => `<circle cx="${coord(toX(p.x))}" cy="${coord(toY(p.y))}" r="3" fill="${s.color}"/>`).join('')
        : '';
      return `<g class="series"><path d="${path}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"/>${dots}</g>`;
    });
    return yAxis(frame, yTicks, toY, yText) + xAxis + lines.join('');
  });
}
