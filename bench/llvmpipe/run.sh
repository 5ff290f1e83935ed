#!/bin/bash
# lavapipe's cost of a storage load by lane pattern, and 512^3 matmul variants by lane assignment
# (bench/RESULTS.md, 2026-12-07). From the repository root, after scripts/setup.sh:
#   bash bench/llvmpipe/run.sh [rounds] [variant,list]     # matmul variants, interleaved rounds
#   MODE=load bash bench/llvmpipe/run.sh [rounds]          # per-load costs
# DUMP=1 prints the WGSL; LP_DEBUG=cs prints the NIR lavapipe compiles.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
export VK_ADD_DRIVER_FILES="$root/.vulkan/lvp_icd.json"
export VK_LOADER_DRIVERS_DISABLE='*lvp_icd.x86_64.json'
cd "$root" && exec node bench/llvmpipe/lanes.mjs "$@"
