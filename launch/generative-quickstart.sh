#!/usr/bin/env bash
# The generative path end to end on the built-in synthetic identities (about 8 minutes on 2 CPU cores):
# pretrain a content-conditioned diffusion generator, train the encoder + identity adapter against it frozen,
# then draw runs/generative-adapter/grid.png from ONE reference of each held-out identity. Run after
# `bash launch/setup.sh` (or the README's main job) has installed the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/build.sh --target imprint
rm -rf runs/generative-pretrain runs/generative-adapter
./build/imprint train --config configs/generative-pretrain.yaml --run-dir runs/generative-pretrain
./build/imprint train --config configs/generative-adapter.yaml --run-dir runs/generative-adapter
./build/imprint generate --checkpoint runs/generative-adapter/checkpoints/step-00000500.ckpt \
  --data runs/data/synthetic-image-content --max-references 6 --steps 50 --guidance 3 \
  --out runs/generative-adapter/grid.png
