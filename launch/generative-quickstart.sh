#!/usr/bin/env bash
# The generative path end to end on the built-in synthetic identities (under 10 minutes on 2 CPU cores):
# train an identity judge on the training identities, pretrain a content-conditioned diffusion generator, train
# the encoder + identity adapter against it FROZEN (scored in the loop by the judge: samples generated from ONE
# reference of each held-out identity, beside the identity-dropped floor and real samples), then draw
# runs/generative-adapter/grid.png. Run after `bash launch/setup.sh` (or the README's main job) has installed
# the dependencies.
#   bash launch/generative-quickstart.sh [--fresh]
# Its run directories, runs/generative-{judge,pretrain,adapter}, may hold a previous run's results: it refuses
# (exit 2) to start while any exists, unless --fresh, which removes them first.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: bash launch/generative-quickstart.sh [--fresh]"
fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) fresh=1 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
# Checked before the build, so a refusal costs nothing.
existing=()
for run in runs/generative-judge runs/generative-pretrain runs/generative-adapter; do
  [ -e "$run" ] && existing+=("$run")
done
if [ ${#existing[@]} -gt 0 ]; then
  if [ "$fresh" = 0 ]; then
    what="${existing[*]} exist"
    [ ${#existing[@]} = 1 ] && what="${existing[0]} exists"
    echo "generative-quickstart: $what (a previous run's results): move away what you want to keep, or rerun" \
      "with --fresh to remove and retrain" >&2
    exit 2
  fi
  echo "generative-quickstart: --fresh: removing ${existing[*]}"
  rm -rf "${existing[@]}"
fi
bash launch/build.sh --target imprint
# Idle OpenMP threads sleep instead of spinning: on a machine whose cores are shared, spinning threads of one
# process slow the others' work several-fold.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
./build/imprint train --config configs/generative-judge.yaml --run-dir runs/generative-judge
./build/imprint train --config configs/generative-pretrain.yaml --run-dir runs/generative-pretrain
./build/imprint train --config configs/generative-adapter.yaml --run-dir runs/generative-adapter
./build/imprint generate --checkpoint runs/generative-adapter/checkpoints/step-00000500.ckpt \
  --data runs/data/synthetic-image-content --max-references 6 --steps 50 --guidance 3 \
  --out runs/generative-adapter/grid.png
