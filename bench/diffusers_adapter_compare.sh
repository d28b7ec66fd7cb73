#!/usr/bin/env bash
# Adapter-training throughput against a diffusers UNet: imprint's C++ loop (the UNet imported as TorchScript by
# launch/diffusers_import.py) against the same step written the standard way in Python (eager diffusers + torch,
# bench/diffusers_adapter_reference.py), same small random UNet, batch, image size and CPU threads, one run after
# the other, interleaved `repetitions` times; medians.
#
#   bash bench/diffusers_adapter_compare.sh [image_size=64] [batch=16] [steps=25] [repetitions=3] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-64}"; batch="${2:-16}"; steps="${3:-25}"; reps="${4:-3}"; threads="${5:-2}"
python=.venv/bin/python; imprint=build/imprint
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=PASSIVE
"$python" launch/diffusers_import.py --tiny --out "$tmp/import" --image-size "$size" --id-tokens 4 --id-dim 32 >/dev/null
"$python" tests/interop/caption_images.py "$tmp/photos" $((batch + 2)) 4 "$size"
"$python" launch/diffusers_captions.py --model "$tmp/import/model" --images "$tmp/photos" --out "$tmp/captions" >/dev/null
"$imprint" pack --modality image --input "$tmp/photos" --output "$tmp/data" --image-size "$size" \
  --content-from "$tmp/captions/captions.tsv" --holdout-identities 2 >/dev/null
pattern=$("$python" -c "import json; print(json.load(open('$tmp/import/import.json'))['adapter_pattern'])")
labels=$("$python" -c "import json; print(json.load(open('$tmp/captions/captions.json'))['captions'])")
# denoise alone (the reference has no InfoNCE; the pooled head then does not train). log.gradient_paths off:
# at every log line (here every step) it costs one more backward per objective.
args=(--set seed=1 --set data.source=shards --set "data.path=$tmp/data" --set "data.image_size=$size"
  --set model.embed_dim=32 --set model.tokens=4 --set model.width=16 --set eval.gallery_per_identity=2
  --set "train.batch_size=$batch" --set "train.steps=$steps" --set train.log_every=1 --set train.eval_every=0
  --set "train.threads=$threads" --set checkpoint.every=0 --set objective.infonce.weight=0
  --set objective.denoise.weight=1 --set objective.denoise.train=adapter
  --set "objective.denoise.generator_script=$tmp/import/generator.pt" --set "objective.denoise.adapter_pattern=$pattern"
  --set "objective.denoise.autoencoder_script=$tmp/import/autoencoder.pt"
  --set "objective.denoise.content_tokens=$tmp/captions/captions.npy" --set "objective.denoise.content_classes=$labels"
  --set objective.denoise.schedule=scaled_linear --set optimizer.lr=1e-4
  --set log.gradient_paths=false)
# The reference's encoder is imprint's own, exported from a 1-step run (the same architecture and size).
"$imprint" train --config tests/cli/tiny.yaml --run-dir "$tmp/encoder" "${args[@]}" --set train.steps=1 \
  --set checkpoint.every=1 >"$tmp/encoder.log" 2>&1 || { tail -20 "$tmp/encoder.log"; exit 1; }
"$imprint" export --checkpoint "$tmp/encoder/checkpoints/step-00000001.ckpt" --out "$tmp/encoder-export" >/dev/null
median() { /usr/bin/python3 -c "import sys,statistics as s; v=[float(x) for x in sys.stdin.read().split()]; print(f'{s.median(v):.1f}')"; }
: >"$tmp/imprint.txt"; : >"$tmp/reference.txt"; : >"$tmp/vae.txt"
for _ in $(seq "$reps"); do
  rm -rf "$tmp/run"
  "$imprint" train --config tests/cli/tiny.yaml --run-dir "$tmp/run" "${args[@]}" >"$tmp/run.log" 2>&1 ||
    { tail -20 "$tmp/run.log"; exit 1; }
  grep '"samples_per_s"' "$tmp/run/metrics.jsonl" | tail -n +4 |
    sed -E 's/.*"samples_per_s":([0-9.e+-]+).*/\1/' | median >>"$tmp/imprint.txt"
  "$python" bench/diffusers_adapter_reference.py "$tmp/import/model" "$tmp/encoder-export/encoder.torchscript.pt" 4 32 \
    "$size" "$batch" "$steps" "$threads" >"$tmp/reference.out"
  awk '{print $2}' "$tmp/reference.out" >>"$tmp/reference.txt"; awk '{print 100 * $4 / $3}' "$tmp/reference.out" >>"$tmp/vae.txt"
done
imp=$(median <"$tmp/imprint.txt"); ref=$(median <"$tmp/reference.txt")
echo "# tiny random SD UNet (block_out 32,64; cross-attention 32), ${size}px images -> $((size / 2))px latents, batch $batch,"
echo "# $threads threads, $steps steps (first 3 not counted), median of $reps; per repetition:"
echo "#   imprint $(tr '\n' ' ' <"$tmp/imprint.txt")  python $(tr '\n' ' ' <"$tmp/reference.txt")"
printf "%-46s %10s\n" "loop" "samples/s"
printf "%-46s %10s\n" "imprint (C++, TorchScript UNet)" "$imp"
printf "%-46s %10s\n" "Python (eager diffusers + torch, AdamW)" "$ref"
awk -v a="$imp" -v b="$ref" 'BEGIN { printf "imprint / Python: %.2fx\n", a / b }'
echo "share of the Python step spent encoding the targets with the frozen VAE: $(median <"$tmp/vae.txt")%"
