// Reads vitest's JSON reports (one per driver, given as LABEL=PATH, or a bare PATH): prints each file's
// duration against its budget, then the one line CI reads, `tests: N passed, N failed`, counted over
// every report. Exits 1 on any failure, an empty or missing report, or a file over budget (the budget
// keeps the whole suite well inside CI's limit).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** Seconds one test file may take on a CPU Vulkan driver; files take under 120 s today. */
const FILE_BUDGET_S = Number(process.env.GPUSEG_FILE_BUDGET_S ?? 240);

let passed = 0;
let failed = 0;
let overBudget = 0;
for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  const [label, path] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : ['tests', arg];
  let report;
  try {
    report = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    console.log(`test-summary: ${label}: no vitest report (${err.message.split('\n')[0]})`);
    failed++;
    continue;
  }
  let total = 0;
  let counted = 0;
  console.log(`${label}:`);
  for (const file of report.testResults ?? []) {
    const seconds = ((file.endTime ?? 0) - (file.startTime ?? 0)) / 1000;
    total += seconds;
    const name = relative(process.cwd(), file.name);
    const flag = seconds > FILE_BUDGET_S ? `  OVER BUDGET (${FILE_BUDGET_S} s)` : '';
    if (flag) overBudget++;
    console.log(`  ${seconds.toFixed(1).padStart(7)} s  ${name}${flag}`);
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed') passed++, counted++;
      else if (t.status === 'failed') failed++, counted++;
    }
    // A file that failed to load has no assertions but a failed status.
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed++;
  }
  console.log(`  ${total.toFixed(1).padStart(7)} s  in all (${label})`);
  if (counted === 0) {
    console.log(`test-summary: ${label}: no test ran`);
    failed++;
  }
}
if (overBudget) console.log(`test-summary: ${overBudget} file(s) over the ${FILE_BUDGET_S} s budget`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 || overBudget > 0 ? 1 : 0);
