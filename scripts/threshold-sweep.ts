// Measures what the decision threshold's --max-fpr does: for each finished run folder given, the
// threshold each target FPR picks on the run's own held-out normal images, and the evaluation set's
// defect IoU and Dice at it. Used to choose --max-fpr's default on development runs (docs/results.md).
//   node --import tsx scripts/threshold-sweep.ts RUN... [--fpr 0.0001,0.001,0.005,0.01,0.02]
import { join } from 'node:path';
import { readSplit } from '../src/data/index.js';
import { evaluate, evaluationItems } from '../src/evaluate/evaluation.js';
import { loadModel } from '../src/evaluate/model-io.js';
import { SPLIT_FILE } from '../src/run/run-folder.js';
import { chooseThreshold } from '../src/evaluate/threshold.js';
import { setHost } from '../src/gpu/host.js';
import { nodeHost } from '../src/gpu/node-host.js';

setHost(nodeHost);

const args = process.argv.slice(2);
const at = args.indexOf('--fpr');
const targets = at >= 0 ? args.splice(at, 2)[1]!.split(',').map(Number) : [0.0001, 0.001, 0.005, 0.01, 0.02];
for (const run of args) {
  const loaded = await loadModel(run);
  try {
    const { split } = await readSplit(join(run, SPLIT_FILE));
    const items = await evaluationItems(run);
    for (const maxFpr of targets) {
      const t = await chooseThreshold(loaded.model, loaded.device.backend, split.validationNormals, loaded.size, maxFpr, 0);
      if (!t) throw new Error(`${run}: no held-out normal images`);
      const e = await evaluate(loaded.model, loaded.device.backend, items, loaded.size, () => {}, 4, { value: t.threshold, source: '--threshold' });
      const m = e.runThreshold!.overall;
      console.log(JSON.stringify({ run, maxFpr, threshold: t.threshold, fpr: t.fpr, iou: m.iou, dice: m.dice, iouAt05: e.overall.iou }));
    }
  } finally {
    loaded.close();
  }
}
process.exit(0);
