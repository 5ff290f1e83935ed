// Where a cell's pixel errors lie (docs/results.md, issue 24): at the run's threshold, the defect pixels
// found and missed, the false positives in defect images (and how many within 3 px of the defect) and in
// normal test images, and each group's mean highest probability. eval.json keeps probability maps for
// defect images only; the normal test images' maps come from predict, run first:
//   gpuseg predict --model CELL --out $GOOD_MAPS/$P$(basename CELL) DATA/test/good
//   GOOD_MAPS=/tmp/diag P=prefix- node scripts/error-sources.mjs CELL...
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
const require = createRequire(import.meta.url);
const sharp = require('sharp');
async function grey(f, size) {
  const { data } = await sharp(f).greyscale().resize(size, size, { kernel: 'nearest' }).raw().toBuffer({ resolveWithObject: true });
  return data;
}
for (const cell of process.argv.slice(2)) {
  const e = JSON.parse(fs.readFileSync(path.join(cell, 'eval.json')));
  const thr = JSON.parse(fs.readFileSync(path.join(cell, 'threshold.json'))).threshold ?? e.runThreshold.value;
  const t = e.runThreshold.value;
  const s = e.size;
  let fpNear = 0, tp = 0, fpDef = 0, fpGood = 0, fn = 0; const goodMax = []; const defMaxIn = []; const defMaxOut = [];
  // score mass: sum of prob above 0.1 per group
  for (const im of e.images) {
    if (im.type !== 'good' && !im.probability) continue;
    const pf = im.probability ? path.join(cell, im.probability) : path.join(process.env.GOOD_MAPS ?? '/tmp/diag', (process.env.P ?? '') + path.basename(cell), path.basename(im.image).replace('.png','_prob.png'));
    const p = await grey(pf, s);
    const m = im.mask ? await grey(path.resolve(cell, im.mask), s) : null;
    let mi = 0, mo = 0;
    const near = new Uint8Array(p.length); if (m) for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) if (m[y*s+x] > 127) for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) { const yy = y+dy, xx = x+dx; if (yy>=0&&yy<s&&xx>=0&&xx<s) near[yy*s+xx] = 1; }
    for (let i = 0; i < p.length; i++) {
      const pr = p[i] / 255, d = m ? m[i] > 127 : false;
      if (d) { mi = Math.max(mi, pr); if (pr >= t) tp++; else fn++; }
      else { mo = Math.max(mo, pr); if (pr >= t) { if (m) { fpDef++; if (near[i]) fpNear++; } else fpGood++; } }
    }
    if (m) { defMaxIn.push(mi); defMaxOut.push(mo); } else goodMax.push(mo);
  }
  const f = (a) => (a.reduce((x, y) => x + y, 0) / a.length).toFixed(3);
  console.log(path.basename(cell), `t=${t.toFixed(3)} tp=${tp} fn=${fn} fpInDefectImgs=${fpDef} (within 3px of defect ${fpNear}) fpInGoodImgs=${fpGood} | mean max prob: good imgs ${f(goodMax)}, defect imgs inside ${f(defMaxIn)} outside ${f(defMaxOut)}; defects with max<t: ${defMaxIn.filter(x => x < t).length}/${defMaxIn.length}`);
}
