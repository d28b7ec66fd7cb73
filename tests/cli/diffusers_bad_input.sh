#!/usr/bin/env bash
# diffusers_bad_input.sh IMPRINT PYTHON CONFIG WORKDIR — the diffusers path's bad input gets one message naming
# what is wrong and a documented exit code (docs/diffusers.md, "When something is wrong"): a model folder without
# a UNet, an output folder that exists, an image without a caption, caption tokens of the wrong width, identity
# tokens the generator was not imported for, a checkpoint without an adapter exported as diffusers, an export
# into a folder that exists.
set -u
imprint="$(realpath "$1")"; python="$(realpath -ms "$2")"; config="$(realpath "$3")"; work="$(realpath -m "$4")"
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"; expect="$here/expect.sh"
[ -x "$python" ] || { echo "SKIPPED: no test Python at $python (bash launch/setup.sh --tests makes it)"; exit 77; }
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 1
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
import=("$python" "$root/launch/diffusers_import.py")

mkdir -p not-a-model/vae && echo '{}' >not-a-model/vae/config.json
check --exit 2 --match "not-a-model: no unet/config.json" -- \
  "${import[@]}" --model not-a-model --out out --image-size 32 --id-tokens 2 --id-dim 16
check --exit 0 -- "${import[@]}" --tiny --out import --image-size 32 --id-tokens 2 --id-dim 16
check --exit 2 --match "import: the output folder exists and is not empty \(pass --overwrite" -- \
  "${import[@]}" --tiny --out import --image-size 32 --id-tokens 2 --id-dim 16

check --exit 0 -- "$python" "$root/tests/interop/caption_images.py" photos 12 4 32
rm photos/id03/2.txt
check --exit 2 --match "1 image\(s\) have no caption file beside them \(first: id03/2.png\)" -- \
  "$python" "$root/launch/diffusers_captions.py" --model import/model --images photos --out captions
check --exit 0 -- "$python" "$root/launch/diffusers_captions.py" --model import/model --images photos --out captions \
  --default-caption "a mark"
check --exit 0 -- "$imprint" pack --modality image --input photos --output data --image-size 32 \
  --content-from captions/captions.tsv --holdout-identities 2
labels=$("$python" -c "import json; print(json.load(open('captions/captions.json'))['captions'])")
"$python" -c "import numpy as np; np.save('wide.npy', np.zeros(($labels, 16, 48), np.float32))"
pattern=$("$python" -c "import json; print(json.load(open('import/import.json'))['adapter_pattern'])")
args=(--config "$config" --set data.source=shards --set "data.path=$work/data" --set data.image_size=32
  --set model.embed_dim=16 --set model.tokens=2 --set eval.gallery_per_identity=2 --set train.batch_size=8
  --set train.steps=2 --set checkpoint.every=2 --set objective.infonce.weight=0.1 --set objective.denoise.weight=1
  --set objective.denoise.train=adapter --set "objective.denoise.generator_script=$work/import/generator.pt"
  --set "objective.denoise.adapter_pattern=$pattern" --set "objective.denoise.autoencoder_script=$work/import/autoencoder.pt"
  --set "objective.denoise.content_classes=$labels" --set objective.denoise.schedule=scaled_linear)
check --exit 2 --match "generator.pt: takes content tokens of width \(its cross-attention width\) 32, but the run gives 48" \
  -- "$imprint" train "${args[@]}" --set "objective.denoise.content_tokens=$work/wide.npy" --run-dir runs/wide
check --exit 2 --match "generator.pt: takes identity tokens of width D = 16, but the run gives 24 \(model.embed_dim" \
  -- "$imprint" train "${args[@]}" --set "objective.denoise.content_tokens=$work/captions/captions.npy" \
  --set model.embed_dim=24 --run-dir runs/wide-id
check --exit 0 -- "$imprint" train "${args[@]}" --set "objective.denoise.content_tokens=$work/captions/captions.npy" \
  --run-dir runs/adapter
check --exit 0 -- "$imprint" train --config "$config" --set train.steps=2 --set checkpoint.every=2 --run-dir runs/plain
check --exit 3 --match "holds no adapter \(its run trained no denoise objective\)" -- \
  "$imprint" export --format diffusers --checkpoint runs/plain/checkpoints/step-00000002.ckpt --out plain-export
[ ! -e plain-export ] || { echo "FAIL: a refused export wrote plain-export"; exit 1; }
mkdir taken && touch taken/something
check --exit 2 --match "--out: .*taken exists and is not empty \(pass --overwrite" -- \
  "$imprint" export --format diffusers --checkpoint runs/adapter/checkpoints/step-00000002.ckpt --out taken
check --exit 0 --match "exported the identity adapter" -- \
  "$imprint" export --format diffusers --checkpoint runs/adapter/checkpoints/step-00000002.ckpt --out taken --overwrite
echo "diffusers bad input: every case refused with its message and exit code"
