#!/usr/bin/env bash
# The main job, from a fresh clone: set up, write a small synthetic data set, train the ResNet-34 UNet
# from 5 annotated images per defect type, evaluate it on the held-out images (defect IoU per type),
# and write probability maps, masks and overlays. Sized to finish in about ten minutes on 2 CPU cores
# with the CPU Vulkan driver; on a GPU, raise --size, --batch and --steps.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh

out=${GPUSEG_DEMO_DIR:-demo}
size=${GPUSEG_DEMO_SIZE:-64}
steps=${GPUSEG_DEMO_STEPS:-200}
gpuseg() { node dist/src/cli/main.js "$@"; }

gpuseg info
rm -rf "$out/run" "$out/predictions"
gpuseg synth "$out/data" --size "$size" --categories fabric --per-type 12
gpuseg train --data "$out/data/fabric" --out "$out/run" --size "$size" --batch 4 --steps "$steps" \
  --shots 5 --lr 1e-3 --loss bce+dice --validate-every 50
echo
echo "Evaluation on the held-out synthetic images (never seen in training):"
gpuseg eval --model "$out/run"
gpuseg predict "$out"/data/fabric/test/* --model "$out/run" --out "$out/predictions"
echo "pictures (probability map, mask, overlay per image): $(cd "$out/predictions" && pwd)"
