// The experiment's summary table: mean ± std over split seeds per variant and shot count, the best mean
// of each column in bold within each shot count (across shot counts the larger one wins trivially).
import { METRIC_COLUMNS, type MetricKey } from '../evaluate/metrics.js';
import type { ExperimentResults, SummaryRow } from './formats.js';
import { escapeHtml } from './html.js';
import { formatMeanStd, isNumber } from './numbers.js';

/** The summary's columns: the metrics of every results table. */
export const SUMMARY_COLUMNS = METRIC_COLUMNS;

/** The largest mean of each column among the rows (null where no row has one). */
export function bestMeans(rows: readonly SummaryRow[]): Record<MetricKey, number | null> {
  const best = {} as Record<MetricKey, number | null>;
  for (const { key } of SUMMARY_COLUMNS) {
    const values = rows.map((r) => r.mean[key]).filter(isNumber);
    best[key] = values.length > 0 ? Math.max(...values) : null;
  }
  return best;
}

/** The rows in the experiment's order: shot counts as listed, variants as listed within each. */
function orderedRows(results: ExperimentResults): SummaryRow[][] {
  const order = (list: readonly (string | number)[], value: string | number) => {
    const at = list.indexOf(value);
    return at < 0 ? list.length : at;
  };
  const groups = new Map<number, SummaryRow[]>();
  for (const row of results.summary) groups.set(row.shots, [...(groups.get(row.shots) ?? []), row]);
  return [...groups.entries()]
    .sort(([a], [b]) => order(results.shots, a) - order(results.shots, b))
    .map(([, rows]) => rows.sort((a, b) => order(results.variants, a.variant) - order(results.variants, b.variant)));
}

export function summaryTable(results: ExperimentResults): string {
  if (results.summary.length === 0) return '<p class="note">No cell has finished yet: nothing to summarise.</p>';
  const head =
    '<thead><tr><th>Variant</th><th>Shots</th><th>Seeds</th>' +
    SUMMARY_COLUMNS.map((c) => `<th>${c.name}</th>`).join('') +
    '</tr></thead>';
  const body = orderedRows(results)
    .map((rows) => {
      const best = bestMeans(rows);
      return rows
        .map((row, i) => {
          const cells = SUMMARY_COLUMNS.map(({ key }) => {
            const mean = row.mean[key];
            const std = row.seeds > 1 ? row.std[key] : null;
            const isBest = isNumber(mean) && mean === best[key] && rows.length > 1;
            return `<td${isBest ? ' class="best"' : ''}>${formatMeanStd(mean, std)}</td>`;
          }).join('');
          return (
            `<tr${i === 0 ? ' class="group-start"' : ''}><td>${escapeHtml(row.variant)}</td><td>${row.shots}</td>` +
            `<td>${row.seeds}</td>${cells}</tr>`
          );
        })
        .join('');
    })
    .join('');
  const note =
    '<p class="note">Mean ± standard deviation over split seeds (one seed: the mean alone); the best mean of each ' +
    'column within each shot count is in bold. Pixel metrics pooled over all images of each cell\'s evaluation set.</p>';
  return `${note}<table class="summary">${head}<tbody>${body}</tbody></table>`;
}
