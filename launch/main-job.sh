#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, and train the image encoder on the built-in
# synthetic identities (about 1 minute on 2 CPU cores, after the first set-up and build). Prints the loss
# falling and the held-out retrieval score beside chance. Pass `audio` to train the audio encoder instead.
set -euo pipefail
cd "$(dirname "$0")/.."
modality="${1:-image}"
bash launch/setup.sh
bash launch/build.sh --target imprint
rm -rf "runs/main-$modality"
./build/imprint train --config "configs/smoke-$modality.yaml" --run-dir "runs/main-$modality"
