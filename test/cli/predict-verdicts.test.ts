// predict's CSVs and text table from hand-made verdicts: columns, quoting of awkward image names (read
// back with an independent RFC 4180 reader), empty boxes for clean images, the NG list and its cap.
import { describe, expect, it } from 'vitest';
import type { JudgedImage } from '../../src/cli/predict-verdicts.js';
import { regionsCsv, verdictLines, verdictsCsv } from '../../src/cli/predict-verdicts.js';
import { parseCsv } from '../util/csv-parse.js';

const region = (area: number, x: number, maxProbability = 0.9, meanProbability = 0.75) => ({ area, x, y: 2, width: 3, height: 4, maxProbability, meanProbability });
const AWKWARD = 'lot 7, "B"/001.png';
const judged: JudgedImage[] = [
  { image: AWKWARD, verdict: 'NG', score: 12, maxProbability: 0.9, regionCount: 3, regions: [region(12, 5), region(2, 9, 0.5, 0.45)], regionsOmitted: 1 },
  { image: 'good/000.png', verdict: 'OK', score: 0, maxProbability: 0.1234, regionCount: 0, regions: [], regionsOmitted: 0 },
];

describe("predict's verdict files", () => {
  it('verdicts.csv: a row per image, the largest box, quoted names read back whole', () => {
    const text = verdictsCsv(judged);
    expect(text.split('\r\n')[1]).toBe('"lot 7, ""B""/001.png",NG,12,0.9000,3,5,2,3,4');
    expect(parseCsv(text)).toEqual([
      ['image', 'verdict', 'score_px', 'max_probability', 'regions', 'box_x', 'box_y', 'box_width', 'box_height'],
      [AWKWARD, 'NG', '12', '0.9000', '3', '5', '2', '3', '4'],
      ['good/000.png', 'OK', '0', '0.1234', '0', '', '', '', ''],
    ]);
  });

  it('regions.csv: a row per listed region, numbered from 1 per image; a clean image has none', () => {
    expect(parseCsv(regionsCsv(judged))).toEqual([
      ['image', 'region', 'area_px', 'x', 'y', 'width', 'height', 'max_probability', 'mean_probability'],
      [AWKWARD, '1', '12', '5', '2', '3', '4', '0.9000', '0.7500'],
      [AWKWARD, '2', '2', '9', '2', '3', '4', '0.5000', '0.4500'],
    ]);
  });

  it('the text table: counts, NG images largest score first, at most 20 named', () => {
    const ng = (score: number): JudgedImage => ({ image: `ng/${score}.png`, verdict: 'NG', score, maxProbability: 1, regionCount: 1, regions: [region(score, 0)], regionsOmitted: 0 });
    expect(verdictLines([judged[1]!, ng(7), ng(123)], 5)).toEqual([
      '1 OK, 2 NG (NG: a region of at least 5 px above the threshold); per image in verdicts.csv, per region in regions.csv',
      '  NG 123 px  max p 1.0000  ng/123.png',
      '  NG   7 px  max p 1.0000  ng/7.png',
    ]);
    const many = verdictLines(Array.from({ length: 23 }, (_, i) => ng(i + 1)), 1);
    expect(many).toHaveLength(1 + 20 + 1);
    expect(many[0]).toMatch(/^0 OK, 23 NG /);
    expect(many[1]).toBe('  NG 23 px  max p 1.0000  ng/23.png');
    expect(many[20]).toBe('  NG  4 px  max p 1.0000  ng/4.png');
    expect(many[21]).toBe('  … and 3 more, see verdicts.csv');
  });
});
