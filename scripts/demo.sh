#!/usr/bin/env bash
# The main job: set up, then show what gpuseg runs on. (Training arrives with the model issue; this
# becomes synth -> train -> predict -> IoU then.)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
node dist/src/cli/main.js info
node dist/src/cli/main.js bench matmul --size 512
