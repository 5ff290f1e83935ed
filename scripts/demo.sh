#!/usr/bin/env bash
# The main job, from a fresh clone: set up, write a small synthetic data set, train the ResNet-34 UNet
# with the paper's method (5 annotated images per defect type plus the normal images, NBR loss,
# similarity-weighted crop-and-paste), evaluate it on the held-out images (metrics per defect type),
# write the HTML report and the probability maps, masks and overlays. Sized to finish in about ten
# minutes on 2 CPU cores with the CPU Vulkan driver; on a GPU, raise --size, --batch and --steps.
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
gpuseg synth "$out/data" --size "$size" --categories fabric --train-good 60 --per-type 12
# Batches of 4 annotated samples (2 shots, 2 crop-and-paste samples) and 4 normal images on top.
# Evaluated below instead.
gpuseg train --data "$out/data/fabric" --out "$out/run" --size "$size" --batch 4 --normal-per-batch 4 --steps "$steps" \
  --shots 5 --lr 1e-3 --loss bce+dice --validate-every 50 --no-eval
echo
echo "Evaluation on the held-out synthetic images (never seen in training):"
gpuseg eval --model "$out/run"
gpuseg predict "$out"/data/fabric/test/* --model "$out/run" --out "$out/predictions"
echo "report (loss curves, paste weights, metrics, worst images): $(cd "$out/run" && pwd)/report.html"
echo "pictures (probability map, mask, overlay per image): $(cd "$out/predictions" && pwd)"
