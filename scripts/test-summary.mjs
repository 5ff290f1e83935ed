// Reads vitest's JSON report: prints each file's duration against its budget, then the one line CI
// reads, `tests: N passed, N failed`. Exits 1 on any failure, an empty run, or a file over budget
// (the budget keeps the whole suite well inside CI's 30 minutes).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** Seconds one test file may take on lavapipe; files take under 60 s today. */
const FILE_BUDGET_S = Number(process.env.GPUSEG_FILE_BUDGET_S ?? 240);

let report;
try {
  report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
} catch (err) {
  console.log(`test-summary: no vitest report (${err.message.split('\n')[0]})`);
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
}
let passed = 0;
let failed = 0;
let overBudget = 0;
let total = 0;
for (const file of report.testResults ?? []) {
  const seconds = ((file.endTime ?? 0) - (file.startTime ?? 0)) / 1000;
  total += seconds;
  const name = relative(process.cwd(), file.name);
  const flag = seconds > FILE_BUDGET_S ? `  OVER BUDGET (${FILE_BUDGET_S} s)` : '';
  if (flag) overBudget++;
  console.log(`  ${seconds.toFixed(1).padStart(7)} s  ${name}${flag}`);
  for (const t of file.assertionResults ?? []) {
    if (t.status === 'passed') passed++;
    else if (t.status === 'failed') failed++;
  }
  // A file that failed to load has no assertions but a failed status.
  if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed++;
}
console.log(`  ${total.toFixed(1).padStart(7)} s  in all`);
if (overBudget) console.log(`test-summary: ${overBudget} file(s) over the ${FILE_BUDGET_S} s budget`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 || overBudget > 0 ? 1 : 0);
