#!/usr/bin/env bash
# Every measurement issue 6 asks of a GPU machine, in one command (a machine start costs minutes, see
# ../shared/gpu/README.md): on the device tool, after `npm ci && npm run build && ../shared/gpu/bundle.sh`,
#
#   source .gpu/enter.sh && bash bench/gpu.sh "$OUT"                 (every part)
#   source .gpu/enter.sh && bash bench/gpu.sh "$OUT" tune train ...  (only these parts)
#
# A device command may run 10 minutes: where the parts together take longer, run them in two commands
# (the tuning file stays in .cache/ between commands on the same machine).
#
# Writes into the folder given (default bench/out): the adapter, the kernel tests on this adapter (the
# subgroup paths have only ever run on lavapipe's 8-lane subgroups), the tuning at the benchmark's shape,
# our train step with its profile, the memory at batch 8, 256x256, the TF.js comparison, and the PyTorch
# peer in FP32 (TF32 off, with the GEMM throughput of the conv shapes) and with its defaults. Each part
# has its own time limit and a failing part does not stop the others; status.txt lists each part's exit.
# GPUSEG_GPU_BENCH_SMALL=1 runs every part at a tiny size (to check this script on lavapipe).
set -u
cd "$(dirname "$0")/.."
out=${1:-bench/out}
[ $# -gt 0 ] && shift
only=" $* "
mkdir -p "$out"
export GPUSEG_CACHE_DIR="${GPUSEG_CACHE_DIR:-.cache/gpuseg-bench}"
cli="node dist/src/cli/main.js"

if [ "${GPUSEG_GPU_BENCH_SMALL:-0}" = 1 ]; then
  batch=1; size=64; memBatch=1; memSize=64; steps=1; rounds=1; layers="--layers 2"; tests="test/kernels/autotune.test.ts"
else
  batch=16; size=256; memBatch=8; memSize=256; steps=10; rounds=2; layers=""; tests="test/kernels"
fi

# part NAME LIMIT_SECONDS COMMAND...: stdout to NAME.out, stderr to NAME.err, exit status to status.txt.
part() {
  local name=$1 limit=$2
  shift 2
  if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then return; fi
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.out" 2> "$out/$name.err"
  local rc=$?
  echo "$name exit $rc after $((SECONDS - start)) s" | tee -a "$out/status.txt" >&2
}

if ! $cli info --json > "$out/info.json" 2> "$out/info.err"; then
  echo "no adapter: see $out/info.err" >&2
  { ls /usr/local/nvidia/share/vulkan/icd.d; ldconfig -p | grep -i -e vulkan -e nvidia; } > "$out/no-adapter.txt" 2>&1
  cat "$out/info.err" "$out/no-adapter.txt" >&2
  exit 2
fi
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true

# Node alone travels to the GPU machine (no npm, no npx): tools are started through node.
part kernel-tests 300 node node_modules/vitest/vitest.mjs run $tests --reporter=json --outputFile="$out/kernel-tests.json"
# shellcheck disable=SC2086
part tune 300 $cli tune --batch "$batch" --size "$size" $layers --json
part train 200 $cli bench train --batch "$batch" --size "$size" --steps "$steps" --profile --json
part train-untuned 200 env GPUSEG_TUNING=off $cli bench train --batch "$batch" --size "$size" --steps "$steps" --json
part memory 200 $cli bench train --batch "$memBatch" --size "$memSize" --steps 2 --warmup 1 --json
part kernels 300 $cli bench kernels --batch "$batch" --size "$size" --only conv2d --json
part compare 400 node --import tsx scripts/bench-compare.ts --batch "$batch" --size "$size" --steps "$steps" --rounds "$rounds" --json
part torch-fp32 200 python3 bench/peers/torch_peer.py --batch "$batch" --size "$size" --steps "$steps" --mode fp32 --gemm
part torch-default 200 python3 bench/peers/torch_peer.py --batch "$batch" --size "$size" --steps "$steps" --mode default
part torch-memory 200 python3 bench/peers/torch_peer.py --batch "$memBatch" --size "$memSize" --steps 2 --mode fp32
cp "$GPUSEG_CACHE_DIR"/tuning-*.json "$out/" 2>/dev/null || true
