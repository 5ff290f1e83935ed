#!/usr/bin/env bash
# `npm run reproduce`: the experiment of METHOD.md's claim (the default training against training on the
# shots alone, 1-shot and 5-shot, over several split seeds), resumable. By default on two synthetic
# categories whose normal images vary (pill, an aligned object; wood, a texture) at 64x64; every setting
# is an environment variable, and GPUSEG_REPRO_DATA points it at one real category (an MVTec AD folder).
#
#   npm run reproduce                                       # synthetic pill and wood, 64x64, 400 steps a cell
#   GPUSEG_REPRO_DATA=mvtec/bottle GPUSEG_REPRO_SIZE=256 GPUSEG_REPRO_STEPS=2000 \
#     GPUSEG_REPRO_VARIANTS=baseline,nbr,cp,cpw,full npm run reproduce     # on a GPU
#
# Extra arguments go to `gpuseg experiment` (e.g. -- --encoder-weights resnet34.pth).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh

size=${GPUSEG_REPRO_SIZE:-64}
steps=${GPUSEG_REPRO_STEPS:-400}
shots=${GPUSEG_REPRO_SHOTS:-1,5}
variants=${GPUSEG_REPRO_VARIANTS:-baseline,full}
seeds=${GPUSEG_REPRO_SEEDS:-0,1,2}
# METHOD.md's 1e-4 is for 2000 steps; a few hundred steps from He initialisation need the demo's 1e-3.
# The same for every variant.
lr=${GPUSEG_REPRO_LR:-1e-3}
batch=${GPUSEG_REPRO_BATCH:-8}
out=${GPUSEG_REPRO_DIR:-reproduce}
gpuseg() { node dist/src/cli/main.js "$@"; }

data=${GPUSEG_REPRO_DATA:-}
categories=${GPUSEG_REPRO_CATEGORIES:-pill,wood}
# The synthetic data's seed: 0 for the report; the defaults were chosen on seed 100 (docs/results.md).
data_seed=${GPUSEG_REPRO_DATA_SEED:-0}
dirs=()
if [ -z "$data" ]; then
  # Abundant normal images, as the method assumes; 12 images per defect type leave 7 to 11 to evaluate.
  gpuseg synth "$out/data" --size "$size" --seed "$data_seed" --categories "$categories" --train-good 200 --test-good 10 --per-type 12
  IFS=, read -r -a names <<<"$categories"
  for name in "${names[@]}"; do dirs+=("$out/data/$name"); done
else
  dirs=("$data")
fi

for dir in "${dirs[@]}"; do
  name=$(basename "$dir")
  exp="$out/experiment-$name"
  echo "reproduce: $dir at ${size}x${size}, $steps steps, batch $batch, lr $lr; shots $shots; variants $variants; split seeds $seeds"
  gpuseg experiment --data "$dir" --out "$exp" --size "$size" --steps "$steps" --batch "$batch" --lr "$lr" \
    --shots "$shots" --variants "$variants" --split-seeds "$seeds" "$@"
  echo "table: $(cd "$exp" && pwd)/results.md; report: $(cd "$exp" && pwd)/report.html"
done
