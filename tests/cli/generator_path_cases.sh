#!/usr/bin/env bash
# generator_path_cases.sh IMPRINT CONFIG WORKDIR — a generative checkpoint works from any directory: an adapter
# trained from a generator named by a RELATIVE path (as the quickstart does) generates, and a pretraining
# checkpoint is refused by export, embed and eval (its encoder never trained), when run from another directory.
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
mkdir "$work/grid.png.tmp"  # in the way of a fixed temp name (the one two writers once shared): not used
check --exit 0 --within 120 --match "wrote $work/grid.png: 1 reference" -- \
  "$imprint" generate --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" \
  --reference "$here/../fixtures/pattern16.png" --content 0,1 --steps 4 --out "$work/grid.png"
pretrained="$work/runs/pretrain/checkpoints/step-00000004.ckpt"
check --exit 3 --within 60 --match "no objective of its run \(denoise\) trained the encoder \(generator pretraining, or an autoencoder\)" -- \
  "$imprint" export --checkpoint "$pretrained" --out "$work/exported"
check --exit 3 --within 60 --match "no objective of its run \(denoise\) trained the encoder \(generator pretraining, or an autoencoder\)" -- \
  "$imprint" embed --checkpoint "$pretrained" --input "$here/../fixtures/pattern16.png" --out "$work/embedded"
[ ! -e "$work/embedded" ] || { echo "FAIL: embed of a pretraining checkpoint wrote $work/embedded"; exit 1; }
# The adapter's identity fidelity on another dataset, scored by a judge, without training a step.
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir "$work/runs/judge" --set train.steps=4
check --exit 0 --within 60 -- "$imprint" synth --modality image --identities 12 --holdout-identities 5 \
  --samples-per-identity 6 --image-size 16 --content-classes 4 --seed 77 --output "$work/other"
check --exit 3 --within 60 --match "no objective of its run \(denoise\) trained the encoder \(generator pretraining, or an autoencoder\)" -- \
  "$imprint" eval --checkpoint "$pretrained" --data "$work/other" --gallery-per-identity 3
check --exit 0 --within 180 --match "identity fidelity from ONE reference \(3 held-out identities, 12 samples; chance 33.3%\) \| judge top-1 generated [0-9.]+%, identity dropped [0-9.]+%, real [0-9.]+% .*\(identities drawn with seed 5\)" -- \
  "$imprint" eval --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" --data "$work/other" \
  --judge "$work/runs/judge/checkpoints/step-00000004.ckpt" --fidelity-identities 3 --seed 5 --gallery-per-identity 3
# Another reader of the content than the run's (a character reader trained after the run, recipes/fonts): it is
# loaded (a missing file is named), and it needs --judge.
check --exit 0 --within 180 --match "content accuracy [0-9.]+%, [0-9.]+%, [0-9.]+%" -- \
  "$imprint" eval --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" --data "$work/other" \
  --judge "$work/runs/judge/checkpoints/step-00000004.ckpt" --content-judge "$work/runs/judge/checkpoints/step-00000004.ckpt" \
  --fidelity-identities 3 --gallery-per-identity 3
check --exit 3 --within 60 --match "$work/no-reader.ckpt" -- \
  "$imprint" eval --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" --data "$work/other" \
  --judge "$work/runs/judge/checkpoints/step-00000004.ckpt" --content-judge "$work/no-reader.ckpt" --gallery-per-identity 3
check --exit 2 --within 60 --match "--content-judge reads generated samples: it needs --judge" -- \
  "$imprint" eval --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" --data "$work/other" \
  --content-judge "$work/runs/judge/checkpoints/step-00000004.ckpt"
check --exit 2 --within 60 --match "--steps 5000: this generator has 50 timesteps; give at most that many" -- \
  "$imprint" generate --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" \
  --reference "$here/../fixtures/pattern16.png" --steps 5000 --out "$work/g.png"
# Content by label with a reference file: the dataset names the labels.
check --exit 0 --within 120 --match "wrote $work/labels.png: 1 reference\(s\) x 2 content label\(s\) \(spot0, spot2\)" -- \
  "$imprint" generate --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" \
  --reference "$here/../fixtures/pattern16.png" --data "$work/other" --content spot0,spot2 --steps 4 \
  --out "$work/labels.png"
# imprint's own generator out (export --format generator), and back in as a generator_script: a new adapter trains
# against the exported file. A checkpoint without a generator is refused.
check --exit 0 --within 60 --match "exported the generator of .*generator.torchscript.pt" -- \
  "$imprint" export --format generator --checkpoint "$work/runs/adapter/checkpoints/step-00000004.ckpt" \
  --out "$work/generator-export"
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir "$work/runs/adapter-on-export" \
  "${common[@]}" --set objective.denoise.train=adapter --set train.steps=2 \
  --set "objective.denoise.generator_script=$work/generator-export/generator.torchscript.pt"
check --exit 3 --within 60 --match "trained without a generator, so it has none" -- \
  "$imprint" export --format generator --checkpoint "$work/runs/judge/checkpoints/step-00000004.ckpt" \
  --out "$work/no-generator"
echo "PASS"
