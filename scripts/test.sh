#!/usr/bin/env bash
# The test command: sets up (scripts/setup.sh), runs the whole vitest suite on the adapter found, and
# ends with one plain line, `tests: N passed, N failed`, counted from vitest's JSON report.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }
# The report tests (test/report/) open the HTML reports in a real headless Chromium.
bash scripts/install-chromium.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }
# The queue tests (test/experiment/queue.test.ts) start a real redis-server of their own.
bash scripts/install-redis.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }
# The PyTorch peer benchmark's tests (test/bench/vs-torch.test.ts) run bench/peers/torch_peer.py.
bash scripts/install-torch.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }

# Everything the tests write to the temporary folder (runs with checkpoints, grids, caches, browser
# profiles) goes into one folder of this run's, removed when the run ends however it ends: a run leaves
# nothing behind to fill the disk of the next. A file that keeps its own leftovers still passes here.
scratch=$(mktemp -d -t gpuseg-tests-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"
free_kib=$(df -Pk "$scratch" | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt $((8 * 1024 * 1024)) ]; then
  echo "tests: warning: only $((free_kib / 1024)) MiB free in $scratch; the suite writes gigabytes (the resume test alone 1.7 GB)"
fi

report=$(mktemp -t gpuseg-vitest-XXXXXX.json)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
vitest_status=$?
reports=("lavapipe=$report")

# The kernel, model, autograd and gpu tests again on a second, independent CPU Vulkan driver:
# SwiftShader, which comes with the Chromium installed above (256-byte offset alignment, 256
# invocations per workgroup, 4-lane subgroups, no shader-f16). Only for the whole suite (no arguments),
# or when GPUSEG_SECOND_DRIVER=1.
SWIFTSHADER_ICD=/usr/lib/chromium/vk_swiftshader_icd.json
if [ "$#" -eq 0 ] || [ "${GPUSEG_SECOND_DRIVER:-}" = 1 ]; then
  second=$(mktemp -t gpuseg-vitest-swiftshader-XXXXXX.json)
  if [ -f "$SWIFTSHADER_ICD" ]; then
    echo "tests: the kernel and model tests on SwiftShader"
    VK_ADD_DRIVER_FILES="$SWIFTSHADER_ICD" GPUSEG_ADAPTER=swiftshader \
      npx vitest run --reporter=default --reporter=json --outputFile.json="$second" test/kernels test/model test/autograd test/gpu
    [ $? -eq 0 ] || vitest_status=1
  else
    echo "tests: no SwiftShader ($SWIFTSHADER_ICD): scripts/install-chromium.sh should have installed it"
    vitest_status=1
  fi
  reports+=("swiftshader=$second")
fi
node scripts/test-summary.mjs "${reports[@]}"
summary_status=$?
rm -f "$report" ${second:+"$second"}
[ "$vitest_status" -eq 0 ] && [ "$summary_status" -eq 0 ]
