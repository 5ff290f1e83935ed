#!/usr/bin/env bash
# Sets this checkout up on a fresh Debian 12 machine (root, no GPU needed): npm packages, the build,
# and the CPU Vulkan driver when Dawn finds no adapter. Safe to run again: each step is skipped when done.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

need_major=20; need_minor=19
if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js >= $need_major.$need_minor is required and not installed (Debian 12's own nodejs is 18: too old)" >&2
  exit 1
fi
IFS=. read -r major minor _ <<<"$(node -p 'process.versions.node')"
if [ "$major" -lt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -lt "$need_minor" ]; }; then
  echo "setup: Node.js >= $need_major.$need_minor is required, found $(node --version)" >&2
  exit 1
fi

# npm packages, when missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  # onnxruntime-node's install script would fetch CUDA binaries from outside the registry (and fail with
  # no network beyond it); ONNXRUNTIME_NODE_INSTALL=skip is its documented switch. The CPU binaries the
  # ONNX test uses are inside the package.
  ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building (tsc)"
npx tsc -p tsconfig.json

# A WebGPU adapter: a real GPU if the machine has one; otherwise lavapipe (Mesa 25) for the CPU.
set +e
node dist/src/cli/main.js info --json >/dev/null 2>&1
status=$?
set -e
if [ "$status" -eq 2 ]; then
  echo "setup: Dawn finds no adapter; installing the CPU Vulkan driver (lavapipe)"
  bash scripts/install-lavapipe.sh
  node dist/src/cli/main.js info >/dev/null || { echo "setup: still no adapter after installing lavapipe" >&2; exit 1; }
elif [ "$status" -ne 0 ]; then
  echo "setup: 'gpuseg info' failed (exit $status):" >&2
  node dist/src/cli/main.js info >&2 || true
  exit 1
fi
echo "setup: adapter: $(node dist/src/cli/main.js info --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).adapter))')"
