// predict's verdicts beside its pictures: OUT/verdicts.csv (a row per image) and OUT/regions.csv (a row
// per listed region), and the short table it prints. The CSVs describe the latest predict into OUT: the
// old ones are removed before its first picture is replaced, and the new ones are written whole at the
// end (or, when an image fails, for the images before it), each atomically.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Verdict } from '../data/index.js';
import { csvText } from '../util/csv.js';
import { writeFileAtomic } from '../util/files.js';
import { SUMMARY_FILES } from './predict-files.js';

/** NG images the text output names, worst first; the rest are counted. */
const NG_LINES = 20;

export type JudgedImage = { image: string } & Verdict;

const fixed = (p: number) => p.toFixed(4);

export function verdictsCsv(judged: readonly JudgedImage[]): string {
  const header = ['image', 'verdict', 'score_px', 'max_probability', 'regions', 'box_x', 'box_y', 'box_width', 'box_height'];
  return csvText([
    header,
    ...judged.map((j) => {
      const largest = j.regions[0];
      const box = largest ? [largest.x, largest.y, largest.width, largest.height] : ['', '', '', ''];
      return [j.image, j.verdict, j.score, fixed(j.maxProbability), j.regionCount, ...box];
    }),
  ]);
}

/** Region 1 is each image's largest; an image without regions has no row. */
export function regionsCsv(judged: readonly JudgedImage[]): string {
  const header = ['image', 'region', 'area_px', 'x', 'y', 'width', 'height', 'max_probability', 'mean_probability'];
  return csvText([
    header,
    ...judged.flatMap((j) =>
      j.regions.map((r, i) => [j.image, i + 1, r.area, r.x, r.y, r.width, r.height, fixed(r.maxProbability), fixed(r.meanProbability)]),
    ),
  ]);
}

export const summaryPaths = (out: string) => ({ verdicts: join(out, SUMMARY_FILES.verdicts), regions: join(out, SUMMARY_FILES.regions) });

/** Removes an earlier predict's CSVs (planOutputs has checked they are predict's own). */
export async function clearVerdicts(out: string): Promise<void> {
  for (const path of Object.values(summaryPaths(out))) await rm(path, { force: true });
}

export async function writeVerdicts(out: string, judged: readonly JudgedImage[]): Promise<void> {
  const paths = summaryPaths(out);
  const encode = (text: string) => new TextEncoder().encode(text);
  await writeFileAtomic(paths.regions, encode(regionsCsv(judged)));
  // Last: a verdicts.csv on disk always comes with the regions.csv of the same predict.
  await writeFileAtomic(paths.verdicts, encode(verdictsCsv(judged)));
}

/** The counts, then the NG images by score, largest first (at most NG_LINES of them). */
export function verdictLines(judged: readonly JudgedImage[], minArea: number, minAreaSource?: string): string[] {
  const ng = judged.filter((j) => j.verdict === 'NG').sort((a, b) => b.score - a.score);
  const lines = [`${judged.length - ng.length} OK, ${ng.length} NG (NG: a region of at least ${minArea} px above the threshold${minAreaSource ? `, ${minAreaSource}` : ''}); per image in ${SUMMARY_FILES.verdicts}, per region in ${SUMMARY_FILES.regions}`];
  const width = String(ng[0]?.score ?? 0).length;
  for (const j of ng.slice(0, NG_LINES)) lines.push(`  NG ${String(j.score).padStart(width)} px  max p ${fixed(j.maxProbability)}  ${j.image}`);
  if (ng.length > NG_LINES) lines.push(`  … and ${ng.length - NG_LINES} more, see ${SUMMARY_FILES.verdicts}`);
  return lines;
}
