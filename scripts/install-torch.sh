#!/usr/bin/env bash
# Installs Debian's PyTorch (python3-torch, CPU) for the PyTorch peer benchmark's tests
# (test/bench/vs-torch.test.ts) and for `npm run bench:torch`: a benchmark peer and a fixture writer,
# never a dependency of gpuseg itself. Debian's own python3: a pyenv shim may stand first on the PATH.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian-package.sh" python3 python3-torch \
  "the PyTorch peer benchmark's tests need it" "/usr/bin/python3 -c 'import torch'"
