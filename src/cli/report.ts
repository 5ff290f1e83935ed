// `gpuseg report DIR`: the HTML report of a run folder (or of an experiment folder), from its files.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EXPERIMENT_FILE } from '../experiment/claim.js';
import { writeExperimentReport, writeRunReport } from '../report/index.js';
import { CONFIG_FILE } from '../run/checkpoint.js';
import { InputError } from './errors.js';

const isFile = (path: string) => stat(path).then((s) => s.isFile(), () => false);

export async function runReport(dir: string, o: { json?: boolean }): Promise<void> {
  let path: string;
  if (await isFile(join(dir, EXPERIMENT_FILE))) path = await writeExperimentReport(dir);
  else if (await isFile(join(dir, CONFIG_FILE))) path = await writeRunReport(dir);
  else throw new InputError(`${dir}: neither a run folder (${CONFIG_FILE}) nor an experiment folder (${EXPERIMENT_FILE})`);
  process.stdout.write(o.json ? `${JSON.stringify({ report: path })}\n` : `report: ${path}\n`);
}
