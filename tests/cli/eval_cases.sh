#!/usr/bin/env bash
# eval_cases.sh IMPRINT CONFIG WORKDIR — `imprint eval`: a checkpoint evaluated on another dataset (its
# held-out identities, then --all) gives the training evaluation's metrics and a JSON report, leaves the
# checkpoint as it was, refuses a dataset of the wrong size or modality with one message (exit 6), and warns
# when --clip-seconds passes every clip evaluated.
set -u
imprint="$1"; config="$2"; work="$3"
expect="$(dirname "$0")/expect.sh"
rm -rf "$work"; mkdir -p "$work"
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
"$imprint" train --config "$config" --run-dir "$work/run" --set train.steps=20 >/dev/null 2>&1 || { echo "FAIL: training"; exit 1; }
ckpt="$work/run/checkpoints/step-00000020.ckpt"
before=$(sha256sum "$ckpt" | cut -d' ' -f1)
# Identities the run never saw: another seed, 16 pixels like the training images.
"$imprint" synth --modality image --identities 12 --holdout-identities 6 --samples-per-identity 5 --image-size 16 \
  --seed 99 --output "$work/other" >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
check --exit 0 --match "top-1 [0-9.]+% \([0-9]+ of 6 identities; chance 16\.7%, gallery 18\)" \
  --match "EER [0-9.]+%, minDCF\(0\.01\) [0-9.]+ over 36 target / 240 non-target pairs" --match "wrote .*report.json" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --json "$work/report.json"
/usr/bin/python3 - "$work/report.json" <<'PY' || { echo "FAIL: report.json"; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["identities"] == 6 and len(r["per_identity"]) == 6, r
assert 0 <= r["eer"] <= 1 and 0 <= r["top1"] <= 1 and r["target_trials"] == 36, r
assert abs(r["top1"] - sum(r["per_identity"].values()) / 6) < 1e-9, "per-identity hits disagree with top-1"
PY
# AS-norm over the 6 training identities of the other dataset: reported beside the raw figures.
check --exit 0 --match "with AS-norm \(6 training identities, top 4\): EER [0-9.]+%, minDCF\(0\.01\) [0-9.]+" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --asnorm-cohort 6 --asnorm-top-k 4
# A trial list naming every pair of the held-out samples the evaluation above uses (references = sample 0,
# gallery = samples 1..3) must give exactly its all-pairs EER and minDCF, raw and AS-normed.
/usr/bin/python3 - "$work/other/manifest.json" "$work/trials.txt" <<'PY' || { echo "FAIL: writing trials"; exit 1; }
import itertools, json, sys
m = json.load(open(sys.argv[1]))
samples = [(m["identities"][h], i) for h in m["holdout"] for i in range(4)]
with open(sys.argv[2], "w") as f:
    f.write("# every pair of the held-out samples\n")
    for (a, i), (b, j) in itertools.combinations(samples, 2):
        f.write("%s %s/%d %s/%d\n" % ("target" if a == b else "0", a, i, b, j))
PY
check --exit 0 --match "trials .*trials.txt: EER [0-9.]+%, minDCF\(0\.01\) [0-9.]+ over 36 target / 240 non-target trials; with AS-norm" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --asnorm-cohort 6 --asnorm-top-k 4 \
  --trials "$work/trials.txt" --json "$work/trials.json"
/usr/bin/python3 - "$work/trials.json" <<'PY' || { echo "FAIL: trials disagree with every pair"; exit 1; }
import json, sys
r = json.load(open(sys.argv[1])); t = r["trials"]
for key in ("eer", "min_dcf", "eer_asnorm", "min_dcf_asnorm"):
    assert abs(t[key] - r[key]) < 1e-9, (key, t[key], r[key])
assert t["target_trials"] == 36 and t["nontarget_trials"] == 240 and t["training_identity_trials"] == 0, t
PY
first=$(/usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['identities'][m['holdout'][0]])" "$work/other/manifest.json")
second=$(/usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['identities'][m['holdout'][1]])" "$work/other/manifest.json")
printf '1 %s/0 %s/1\n1 %s/0 %s/1\n' "$first" "$first" "$first" "$second" >"$work/contradiction.txt"
check --exit 6 --match "contradiction.txt:2: labelled target but '$first/0' and '$second/1' are different identities" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --trials "$work/contradiction.txt"
printf '1 %s/0 %s/9\n' "$first" "$first" >"$work/range.txt"
check --exit 6 --match "range.txt:1: '$first/9': identity $first has 5 samples \(0\.\.4\)" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --trials "$work/range.txt"
printf '1 nobody/0 %s/1\n' "$first" >"$work/unknown.txt"
check --exit 6 --match "unknown.txt:1: 'nobody/0': expected IDENTITY/INDEX naming an identity" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --trials "$work/unknown.txt"
printf '1 %s/0 %s/1\n' "$first" "$first" >"$work/targets-only.txt"
check --exit 6 --match "targets-only.txt: 1 trials, 1 of them target: EER needs at least one target and one non-target" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --gallery-per-identity 3 --trials "$work/targets-only.txt"
check --exit 6 --match "--asnorm-cohort: with --all every identity of .* is evaluated" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --all --gallery-per-identity 3 --asnorm-cohort 6
check --exit 0 --match "of 12 identities; chance 8\.3%" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/other" --all --gallery-per-identity 3
[ "$(sha256sum "$ckpt" | cut -d' ' -f1)" = "$before" ] || { echo "FAIL: eval changed the checkpoint"; exit 1; }
"$imprint" synth --modality image --identities 6 --holdout-identities 3 --samples-per-identity 5 --image-size 24 \
  --output "$work/big" >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
check --exit 6 --match "big: images are 24 pixels but .* was trained on 16 \(re-pack with --image-size 16\)" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/big"
"$imprint" synth --modality audio --identities 6 --holdout-identities 3 --samples-per-identity 5 \
  --output "$work/audio" >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
check --exit 6 --match "audio: is an audio dataset but .* holds an image encoder" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/audio"
check --exit 3 --match "nope.ckpt" -- "$imprint" eval --checkpoint "$work/nope.ckpt" --data "$work/other"
# An audio encoder scored with a clip length past every clip: each clip is mostly padding, which changes the
# scores; said in one line (once accepted silently). The run's own clip length says nothing.
"$imprint" train --config "$config" --run-dir "$work/voice" --set train.steps=4 --set data.modality=audio \
  --set data.clip_seconds=0.25 --set model.audio.n_mels=24 --set model.audio.n_fft=128 --set model.audio.hop=64 \
  >"$work/voice.log" 2>&1 || { tail "$work/voice.log"; echo "FAIL: training on audio"; exit 1; }
"$imprint" synth --modality audio --identities 6 --holdout-identities 3 --samples-per-identity 5 --clip-seconds 0.25 \
  --output "$work/short-clips" >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
check --exit 0 --match "warn.*--clip-seconds 30 is longer than every clip evaluated \(the longest is 0\.25 s\): each is zero-padded to 30 s, which changes the embeddings and the scores" \
  --match "top-1 [0-9.]+% \([0-9]+ of 3 identities" -- \
  "$imprint" eval --checkpoint "$work/voice/checkpoints/step-00000004.ckpt" --data "$work/short-clips" --clip-seconds 30
check --exit 0 --no-match "zero-padded" --match "--clip-seconds 0.25 \(the run's data.clip_seconds\)" -- \
  "$imprint" eval --checkpoint "$work/voice/checkpoints/step-00000004.ckpt" --data "$work/short-clips"
# A set packed for evaluation only (every identity held out): scored without --all, AS-normed with a cohort
# from another dataset, and refused for training.
/usr/bin/python3 - "$work/testset" <<'PY' || { echo "FAIL: writing the test set"; exit 1; }
import os, sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(3)
for i in range(6):
    os.makedirs(f"{sys.argv[1]}/person{i}")
    base = rng.integers(0, 256, size=(16, 16, 3))
    for k in range(4):
        noisy = np.clip(base + rng.normal(0, 20, size=base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(f"{sys.argv[1]}/person{i}/{k}.png")
PY
check --exit 0 --match "packed 6 identities \(6 held out\)" -- \
  "$imprint" pack --modality image --input "$work/testset" --output "$work/testset-packed" --image-size 16 --eval-only
check --exit 0 --match "top-1 [0-9.]+% \([0-9]+ of 6 identities" \
  --match "with AS-norm \(6 training identities, top 4\): EER" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/testset-packed" --asnorm-cohort 6 --asnorm-top-k 4 \
  --asnorm-cohort-data "$work/other"
check --exit 0 --match "with AS-norm \(6 training identities: all the dataset has, of 1000 asked for, top 4\)" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/testset-packed" --asnorm-cohort 1000 --asnorm-top-k 4 \
  --asnorm-cohort-data "$work/other"
check --exit 6 --match "testset-packed has no training identities to form a cohort \(give a dataset that has.*--asnorm-cohort-data" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/testset-packed" --asnorm-cohort 6
check --exit 6 --match "testset-packed: holds 0 identities to train on \(every identity is held out" -- \
  "$imprint" train --config "$config" --run-dir "$work/train-on-testset" --set data.source=shards \
  --set "data.path=$work/testset-packed"
echo "PASS"
