// The HTML around the charts: escaping, the page shell with its inline style sheet, the settings list and
// the metric table. Everything is inline so that a report is one file that opens anywhere, offline.
import type { ReportMetrics } from './formats.js';
import { formatMetric, isNumber, MISSING } from './numbers.js';
import { escapeHtml } from '../util/html.js';

export { escapeHtml };

/** A light, neutral style: white cards on a grey page, tabular figures, the charts' strokes and fonts. */
const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f5f6f8;color:#1f2933;font:14px/1.5 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif}
main{max-width:1360px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:24px;margin:0 0 2px}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:14px 0 6px}
.subtitle{color:#52606d;margin:0 0 12px}
section,header{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:16px 20px;margin:16px 0}
.note{color:#52606d;font-size:13px;margin:4px 0 10px}
.warning{color:#8a4b08;background:#fff7e6;border:1px solid #f5d9a8;border-radius:6px;padding:8px 12px}
dl.settings{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px 18px;margin:0}
dl.settings dt{color:#616e7c;font-size:12px}
dl.settings dd{margin:0;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:18px 28px}
figure{margin:0}
figcaption{font-weight:600;font-size:13px;margin:0 0 4px}
svg.chart{display:block;max-width:100%;height:auto}
svg.chart text{font-family:inherit;font-size:11px;fill:#52606d}
svg.chart .axis-title,svg.chart .legend-label{font-size:12px;fill:#323f4b}
svg.chart .grid{stroke:#e6e8eb;stroke-width:1}
svg.chart .tick{stroke:#9aa5b1;stroke-width:1}
svg.chart .error-bar line{stroke:#1f2933;stroke-width:1.5}
svg.chart .missing-bar{fill:#8a4b08}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:4px 0}
th,td{padding:5px 12px;text-align:right;border-bottom:1px solid #e6e8eb;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{background:#f3f4f6;font-weight:600;border-bottom:2px solid #cbd2d9}
tbody tr:nth-child(even){background:#fafbfc}
tr.overall td{font-weight:600;border-top:2px solid #cbd2d9}
tr.group-start td{border-top:2px solid #cbd2d9}
td.best{font-weight:700}
.sub{color:#7b8794;font-weight:400;font-size:12px}
.samples{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
.sample{border:1px solid #e1e4e8;border-radius:6px;padding:8px;background:#fafbfc}
.sample .views{display:flex;gap:8px}
.sample .view{text-align:center;font-size:11px;color:#616e7c}
.sample img{display:block;width:160px;height:160px;border:1px solid #d5d9de;background:#fff}
.sample img.pixelated{image-rendering:pixelated}
.sample .caption{margin-top:6px;font-size:13px}
.sample .caption .name{color:#52606d;word-break:break-all}
.sample .missing{width:160px;height:160px;display:flex;align-items:center;justify-content:center;border:1px dashed #cbd2d9;color:#8a4b08;font-size:11px;padding:6px}
.key{display:flex;gap:20px;flex-wrap:wrap;font-size:13px;color:#323f4b;margin:0 0 10px}
.swatch{display:inline-block;width:14px;height:14px;vertical-align:-2px;margin-right:6px;border-radius:2px}
details{border-top:1px solid #e6e8eb;padding:8px 0}
details>summary{cursor:pointer;font-weight:600}
ul.plain{margin:4px 0;padding-left:20px}
`;

/** A whole page: doctype, charset, title, the style sheet and the body. No script, no external resource. */
export function page(title: string, body: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    `<body><main>${body}</main></body>`,
    '</html>',
    '',
  ].join('\n');
}

export function section(heading: string, content: string, id?: string): string {
  return `<section${id ? ` id="${escapeHtml(id)}"` : ''}><h2>${escapeHtml(heading)}</h2>${content}</section>`;
}

/** A settings list: label, value pairs; a value already in HTML is passed through. */
export function settingsList(entries: readonly [string, string][]): string {
  return `<dl class="settings">${entries.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>`;
}

/** A titled chart, or a note saying what is missing when there is nothing to draw. */
export function chartFigure(caption: string, svg: string | null, emptyNote: string): string {
  const content = svg ?? `<p class="note">${escapeHtml(emptyNote)}</p>`;
  return `<figure><figcaption>${escapeHtml(caption)}</figcaption>${content}</figure>`;
}

function count(value: number | null | undefined): string {
  return isNumber(value) ? Math.round(value).toLocaleString('en-US') : MISSING;
}

/** F1-max with the probability threshold it was reached at. */
function f1Cell(metrics: ReportMetrics): string {
  if (!isNumber(metrics.f1Max)) return MISSING;
  const at = isNumber(metrics.f1MaxThreshold) ? ` <span class="sub">@ ${metrics.f1MaxThreshold.toFixed(2)}</span>` : '';
  return `${formatMetric(metrics.f1Max)}${at}`;
}

/** The per-type metric table with the overall row last; types in alphabetical order. */
export function metricTable(perType: Record<string, ReportMetrics> | null, overall: ReportMetrics): string {
  const head =
    '<thead><tr><th>Defect type</th><th>Images</th><th>Defect pixels</th><th>IoU</th><th>mIoU</th><th>Dice</th>' +
    '<th>AUROC</th><th>AP</th><th>F1-max <span class="sub">@ threshold</span></th><th>AUPRO</th></tr></thead>';
  const row = (name: string, m: ReportMetrics, cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${escapeHtml(name)}</td><td>${count(m.images)}</td><td>${count(m.defectPixels)}</td>` +
    `<td>${formatMetric(m.iou)}</td><td>${formatMetric(m.miou)}</td><td>${formatMetric(m.dice)}</td>` +
    `<td>${formatMetric(m.auroc)}</td><td>${formatMetric(m.ap)}</td><td>${f1Cell(m)}</td><td>${formatMetric(m.aupro)}</td></tr>`;
  const types = Object.keys(perType ?? {}).sort();
  const body = types.map((t) => row(t, perType![t]!)).join('') + row('overall', overall, 'overall');
  return `<table class="metrics">${head}<tbody>${body}</tbody></table>`;
}
