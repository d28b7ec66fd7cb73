#!/usr/bin/env bash
# eval_cases.sh IMPRINT CONFIG WORKDIR — `imprint eval`: a checkpoint evaluated on another dataset (its
# held-out identities, then --all) gives the training evaluation's metrics and a JSON report, leaves the
# checkpoint as it was, and refuses a dataset of the wrong size or modality with one message (exit 6).
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
echo "PASS"
