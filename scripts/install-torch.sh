#!/usr/bin/env bash
# Installs Debian's PyTorch (python3-torch, CPU) for the PyTorch peer benchmark's tests
# (test/bench/vs-torch.test.ts) and for `npm run bench:torch`: a benchmark peer and a fixture writer,
# never a dependency of gpuseg itself. Idempotent: does nothing when Debian's python3 imports torch.
set -euo pipefail
if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  echo "python3-torch: already installed ($(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-torch: /usr/bin/python3 cannot import torch and installing it needs root (run as root, or: apt-get install python3-torch)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "python3-torch: installing Debian's python3-torch (apt-get)"
log=$(mktemp -t install-torch-XXXXXX.log)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-torch; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-torch: 'apt-get install python3-torch' failed; the PyTorch peer benchmark's tests need it" >&2
  exit 1
fi
echo "python3-torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
