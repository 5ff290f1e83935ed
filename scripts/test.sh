#!/usr/bin/env bash
# The test command: sets up (scripts/setup.sh), runs the whole vitest suite on the adapter found, and
# ends with one plain line, `tests: N passed, N failed`, counted from vitest's JSON report.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }
# The report tests (test/report/) open the HTML reports in a real headless Chromium.
bash scripts/install-chromium.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }

report=$(mktemp -t gpuseg-vitest-XXXXXX.json)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
vitest_status=$?
node scripts/test-summary.mjs "$report"
summary_status=$?
rm -f "$report"
[ "$vitest_status" -eq 0 ] && [ "$summary_status" -eq 0 ]
