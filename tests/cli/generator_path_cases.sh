#!/usr/bin/env bash
# generator_path_cases.sh IMPRINT CONFIG WORKDIR — a generative checkpoint works from any directory: an adapter
# trained from a generator named by a RELATIVE path (as the quickstart does) generates, and a pretraining
# checkpoint is refused by export (its encoder never trained), when run from another directory.
set -u
imprint="$1"; config="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"; expect="$here/expect.sh"
rm -rf "$work"; mkdir -p "$work"
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
common=(--set data.content_classes=4 --set objective.denoise.weight=1 --set objective.denoise.width=8
  --set objective.denoise.heads=2 --set objective.denoise.content_classes=4 --set objective.denoise.timesteps=50)
cd "$work" || exit 1
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir runs/pretrain "${common[@]}" \
  --set objective.infonce.weight=0 --set objective.denoise.train=generator --set train.steps=4
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir runs/adapter "${common[@]}" \
  --set objective.denoise.train=adapter --set train.steps=4 \
  --set objective.denoise.generator_from=runs/pretrain/checkpoints/step-00000004.ckpt
cd / || exit 1
check --exit 0 --within 120 --match "wrote $work/grid.png: 1 reference" -- \
  "$imprint" generate --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" \
  --reference "$here/../fixtures/pattern16.png" --content 0,1 --steps 4 --out "$work/grid.png"
check --exit 3 --within 60 --match "its run pretrained the generator only .*its encoder was never trained" -- \
  "$imprint" export --checkpoint "$work/runs/pretrain/checkpoints/step-00000004.ckpt" --out "$work/exported"
echo "PASS"
