// A grouped bar chart with error bars: one group per category (shot count), one bar per series
// (variant) in it, on a linear axis from zero.
import { escapeHtml } from './html.js';
import { formatMetric, formatTick, isNumber, niceDomain, niceStep, niceTicks } from './numbers.js';
import { chartFrame, coord, xTick, yAxis, type LegendEntry } from './svg.js';

export interface Bar {
  value: number | null;
  /** Half-length of the error bar (a standard deviation); null draws none. */
  error: number | null;
}

export interface BarGroup {
  label: string;
  /** One per legend entry, in its order. */
  bars: Bar[];
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  legend: LegendEntry[];
  groups: BarGroup[];
}

const Y_TICKS = 5;
/** Share of each group's width left empty on either side, so that groups read apart. */
const GROUP_PADDING = 0.15;
const CAP_HALF_WIDTH = 4;

/** The chart; null when no bar has a value. */
export function barChart(spec: BarChartSpec): string | null {
  const bars = spec.groups.flatMap((g) => g.bars);
  if (!bars.some((b) => isNumber(b.value))) return null;
  const top = Math.max(...bars.map((b) => (isNumber(b.value) ? b.value + (isNumber(b.error) ? b.error : 0) : 0)));
  const [lo, hi] = niceDomain(0, top > 0 ? top : 1, Y_TICKS);
  const step = niceStep(hi - lo, Y_TICKS);
  return chartFrame(spec.title, spec.xLabel, spec.yLabel, spec.legend, (frame) => {
    const toY = (y: number) => frame.top + frame.height - ((Math.min(hi, Math.max(lo, y)) - lo) / (hi - lo)) * frame.height;
    const groupWidth = frame.width / spec.groups.length;
    const barWidth = (groupWidth * (1 - 2 * GROUP_PADDING)) / spec.legend.length;
    const parts: string[] = [yAxis(frame, niceTicks(lo, hi, Y_TICKS), toY, (v) => formatTick(v, step))];
    spec.groups.forEach((group, g) => {
      const groupLeft = frame.left + g * groupWidth;
      parts.push(xTick(frame, groupLeft + groupWidth / 2, group.label));
      group.bars.forEach((bar, b) => {
        const entry = spec.legend[b]!;
        const x = groupLeft + groupWidth * GROUP_PADDING + b * barWidth;
        if (!isNumber(bar.value)) {
          // Say that the bar is missing rather than leave a gap that reads as zero.
          parts.push(
            `<text class="missing-bar" x="${coord(x + barWidth / 2)}" y="${coord(toY(lo) - 6)}" text-anchor="middle">n/a<title>${escapeHtml(`${entry.name}, ${group.label}: no finished cell`)}</title></text>`,
          );
          return;
        }
        const y = toY(bar.value);
        const tip = `${entry.name}, ${group.label}: ${formatMetric(bar.value)}${isNumber(bar.error) ? ` ± ${formatMetric(bar.error)}` : ''}`;
        parts.push(
          `<rect class="bar" x="${coord(x + 1)}" y="${coord(y)}" width="${coord(barWidth - 2)}" height="${coord(toY(lo) - y)}" fill="${entry.color}"><title>${escapeHtml(tip)}</title></rect>`,
        );
        if (isNumber(bar.error) && bar.error > 0) {
          const middle = coord(x + barWidth / 2);
          const low = coord(toY(bar.value - bar.error));
          const high = coord(toY(bar.value + bar.error));
          parts.push(
            `<g class="error-bar"><line x1="${middle}" y1="${low}" x2="${middle}" y2="${high}"/>` +
              `<line x1="${coord(x + barWidth / 2 - CAP_HALF_WIDTH)}" y1="${high}" x2="${coord(x + barWidth / 2 + CAP_HALF_WIDTH)}" y2="${high}"/>` +
              `<line x1="${coord(x + barWidth / 2 - CAP_HALF_WIDTH)}" y1="${low}" x2="${coord(x + barWidth / 2 + CAP_HALF_WIDTH)}" y2="${low}"/></g>`,
          );
        }
      });
    });
    return parts.join('');
  });
}
