#!/usr/bin/env bash
# diffusers_adapter.sh IMPRINT PYTHON WORKDIR — diffusers in, imprint trains the adapter, diffusers out
# (docs/diffusers.md), with a small random Stable Diffusion pipeline built here:
#   1. launch/diffusers_import.py --tiny: the UNet with IP-Adapter processors -> generator.pt, its VAE ->
#      autoencoder.pt;
#   2. a captioned photo folder -> launch/diffusers_captions.py -> imprint pack --content-from;
#   3. imprint trains the adapter (UNet, VAE and text encoder frozen) on 1 rank and on 2 ranks under mpirun:
#      the same logged losses to 1e-4 relative; only the adapter's weights move;
#   4. a run stopped at step 4 and resumed ends with the uninterrupted run's state digest (bitwise);
#   5. export --format diffusers, then check_diffusers_parity.py: diffusers' UNet with load_ip_adapter gives
#      imprint's prediction (id_scale 0 and 1), a pipeline call makes images, and two broken copies of the
#      file (a wrong k index, a transposed weight) are caught.
set -euo pipefail
imprint="$(realpath "$1")"; python="$(realpath -ms "$2")"; work="$(realpath -m "$3")"
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
[ -x "$python" ] || { echo "SKIPPED: no test Python at $python (bash launch/setup.sh --tests makes it)"; exit 77; }
"$python" -c "import diffusers, transformers" 2>/dev/null ||
  { echo "FAIL: $python cannot import diffusers/transformers (launch/requirements.txt; bash launch/setup.sh --tests)"; exit 1; }
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
run() {  # run NAME CMD...: output to NAME.log, shown when it fails
  local name="$1"; shift
  "$@" >"$work/$name.log" 2>&1 || { local code=$?; tail -30 "$work/$name.log"; fail "$name: exit status $code"; }
}

run import "$python" "$root/launch/diffusers_import.py" --tiny --out import --image-size 32 --id-tokens 2 --id-dim 16
tail -1 import.log
run photos "$python" "$here/caption_images.py" photos 12 4 32
run captions "$python" "$root/launch/diffusers_captions.py" --model import/model --images photos --out captions
tail -1 captions.log
run pack "$imprint" pack --modality image --input photos --output data --image-size 32 --content-from captions/captions.tsv \
  --holdout-identities 2
pattern=$("$python" -c "import json; print(json.load(open('import/import.json'))['adapter_pattern'])")
labels=$("$python" -c "import json; print(json.load(open('captions/captions.json'))['captions'])")
cat >adapter.yaml <<YAML
seed: 3
data: {modality: image, source: shards, path: $work/data, image_size: 32, workers: 1}
model: {embed_dim: 16, tokens: 2, width: 8}
objective:
  infonce: {weight: 0}  # IP-Adapter's recipe: the denoising loss alone (the pooled head then does not train)
  denoise:
    weight: 1.0
    train: adapter
    generator_script: $work/import/generator.pt
    adapter_pattern: '$pattern'
    autoencoder_script: $work/import/autoencoder.pt
    content_tokens: $work/captions/captions.npy
    content_classes: $labels
    schedule: scaled_linear
    prediction: eps
optimizer: {lr: 0.001, weight_decay: 0.01}
schedule: {warmup_steps: 0}
train: {steps: 8, batch_size: 8, log_every: 1, eval_every: 0, threads: 1}
eval: {gallery_per_identity: 2}
checkpoint: {every: 4}
distributed: {timeout_s: 120}
YAML
digest() { "$imprint" inspect "$1/checkpoints/step-00000008.ckpt" | grep -o 'state digest: [0-9a-f]*'; }
run one-rank "$imprint" train --config adapter.yaml --run-dir one-rank
run two-ranks mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  "$imprint" train --config adapter.yaml --run-dir two-ranks
losses() { grep '"loss"' "$1/metrics.jsonl" | sed -E 's/.*"loss":([-0-9.e]+).*"step":([0-9]+).*/\2 \1/'; }
paste <(losses one-rank) <(losses two-ranks) >losses.txt
[ "$(wc -l <losses.txt)" -ge 8 ] || fail "too few loss records: $(cat losses.txt)"
awk '{ if ($1 != $3) { print "step mismatch: " $0; bad = 1 }
       d = $2 - $4; if (d < 0) d = -d; r = d / ($2 > 1e-12 ? $2 : 1e-12); if (r > worst) worst = r
       if (r > 1e-4) { print "loss differs at step " $1 ": " $2 " vs " $4; bad = 1 } }
     END { printf "2 ranks vs 1: losses of %d steps agree to %.1e relative (limit 1e-4)\n", NR, worst; exit bad }' losses.txt

run stopped "$imprint" train --config adapter.yaml --run-dir resumed --set train.stop_at=4
run resumed "$imprint" train --config adapter.yaml --run-dir resumed --resume
[ "$(digest one-rank)" = "$(digest resumed)" ] || fail "resumed run: $(digest resumed), uninterrupted: $(digest one-rank)"
echo "stopped at 4 and resumed: $(digest resumed), as the uninterrupted run"

run export "$imprint" export --format diffusers --checkpoint one-rank/checkpoints/step-00000008.ckpt --out export
tail -1 export.log
"$python" "$here/check_diffusers_parity.py" export import captions/captions.npy "$work/controls"
