#!/usr/bin/env bash
# eval_embeddings.sh IMPRINT PYTHON CONFIG WORKDIR — `imprint eval --embeddings` scores embeddings made by any
# encoder exactly as `imprint eval` scores a checkpoint: the same photos packed and evaluated from the checkpoint,
# and embedded by `imprint embed` then scored from pooled.npy + index.tsv, give the same top-1, EER and minDCF;
# an index.tsv with an identity column (how a peer encoder's output is labelled) scores the same; bad input is
# one message and exit 2. 12 files per identity: natural order (2.png before 10.png) picks the reference and
# gallery, as pack does.
set -u
imprint="$(realpath "$1")"; python="$(realpath -ms "$2")"; config="$(realpath "$3")"; work="$(realpath -m "$4")"
here="$(cd "$(dirname "$0")" && pwd)"; expect="$here/../cli/expect.sh"
[ -x "$python" ] || { echo "SKIPPED: no test Python at $python (bash launch/setup.sh --tests makes it)"; exit 77; }
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 1
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
check --exit 0 -- "$python" "$here/caption_images.py" photos 8 12 16
check --exit 0 -- "$imprint" pack --modality image --input photos --output data --image-size 16 --eval-only
check --exit 0 -- "$imprint" train --config "$config" --run-dir run --set train.steps=30
ckpt=run/checkpoints/step-00000030.ckpt
check --exit 0 -- "$imprint" eval --checkpoint "$ckpt" --data data --gallery-per-identity 3 --json from-checkpoint.json
check --exit 0 -- "$imprint" embed --checkpoint "$ckpt" --input photos --out embedded
check --exit 0 --match "eval of the embeddings in embedded \(96 rows of 32\).* \(8 identities" -- \
  "$imprint" eval --embeddings embedded --gallery-per-identity 3 --json from-embeddings.json
# VoxCeleb-style nesting (ROOT/<identity>/<session>/file): the identity is the first folder, as pack has it.
for d in photos/*/; do
  id=$(basename "$d"); mkdir -p "nested/$id/a" "nested/$id/b"
  for f in "$d"*.png; do n=$(basename "$f" .png); [ $((n % 2)) -eq 0 ] && s=a || s=b; cp "$f" "nested/$id/$s/$n.png"; done
done
check --exit 0 -- "$imprint" embed --checkpoint "$ckpt" --input nested --out nested-embedded
check --exit 0 --match "\(8 identities" -- \
  "$imprint" eval --embeddings nested-embedded --gallery-per-identity 3 --json from-nested.json
# A peer's labelling: the identity in a third column, file names that say nothing.
mkdir peer && cp embedded/pooled.npy peer/ &&
  awk -F'\t' 'NR == 1 { print "row\tfile\tidentity"; next } { n = split($2, p, "/"); print $1 "\tclip-" p[n] "\t" p[n-1] }' \
    embedded/index.tsv >peer/index.tsv
check --exit 0 -- "$imprint" eval --embeddings peer --gallery-per-identity 3 --json from-peer.json
"$python" - <<'PY' || exit 1
import json
a, b, c = (json.load(open(f)) for f in ("from-checkpoint.json", "from-embeddings.json", "from-peer.json"))
n = json.load(open("from-nested.json"))  # other files become gallery (natural order over a/, b/): same counts
if n["identities"] != 8 or n["target_trials"] != a["target_trials"]:
    raise SystemExit(f"FAIL: nested folders: {n['identities']} identities, {n['target_trials']} target pairs")
for key in ("top1", "eer", "min_dcf", "top1_all_queries", "top5_all_queries", "target_trials", "nontarget_trials"):
    for name, other in (("embeddings", b), ("peer labels", c)):
        if abs(a[key] - other[key]) > 1e-4:
            raise SystemExit(f"FAIL: {key}: checkpoint {a[key]} vs {name} {other[key]}")
print(f"the same scores from the checkpoint and from its embeddings: top-1 {a['top1']:.3f}, EER {a['eer']:.4f}, "
      f"minDCF {a['min_dcf']:.3f}, {a['target_trials']} target pairs")
PY
"$python" -c "import numpy as np; np.save('embedded/pooled.npy', np.load('embedded/pooled.npy')[:95])"
check --exit 2 --match "index.tsv lists 96 rows but .*pooled.npy holds 95" -- \
  "$imprint" eval --embeddings embedded --gallery-per-identity 3
# Audio: embed cuts each file as eval does (the run's data.clip_seconds from the start, zero-padded), so the
# same files score the same both ways; 0.4-0.7 s files against a 0.25 s clip, one shorter than it (padded).
"$python" -c "
import os, wave, numpy as np
rng = np.random.default_rng(3)
for k in range(6):
    os.makedirs(f'voices/spk{k}', exist_ok=True)
    for i in range(12):
        n = 1500 if (k, i) == (2, 5) else 3200 + 200 * (i % 4)
        t = np.arange(n) / 8000
        f = 180 + 60 * k + 3 * i
        x = sum(np.sin(2 * np.pi * h * f * t) / h for h in (1, 2, 3)) * 0.2 + rng.normal(0, 0.01, n)
        with wave.open(f'voices/spk{k}/{i}.wav', 'wb') as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
            w.writeframes((np.clip(x, -1, 1) * 32767).astype('<i2').tobytes())
" || exit 1
audio=(--set data.modality=audio --set data.sample_rate=8000 --set data.clip_seconds=0.25 --set model.audio.n_mels=24
       --set model.audio.n_fft=128 --set model.audio.hop=64)
check --exit 0 -- "$imprint" pack --modality audio --sample-rate 8000 --input voices --output voice-data --eval-only
check --exit 0 -- "$imprint" train --config "$config" --run-dir voice-run --set train.steps=30 "${audio[@]}"
vckpt=voice-run/checkpoints/step-00000030.ckpt
check --exit 0 -- "$imprint" eval --checkpoint "$vckpt" --data voice-data --gallery-per-identity 4 --json voice-checkpoint.json
check --exit 0 --match "audio cut to the run's data.clip_seconds 0.25" -- \
  "$imprint" embed --checkpoint "$vckpt" --input voices --out voice-embedded
check --exit 0 -- "$imprint" eval --embeddings voice-embedded --gallery-per-identity 4 --json voice-embeddings.json
"$python" - <<'PY' || exit 1
import json
a, b = (json.load(open(f)) for f in ("voice-checkpoint.json", "voice-embeddings.json"))
for key in ("top1", "eer", "min_dcf", "top1_all_queries", "target_trials"):
    if abs(a[key] - b[key]) > 1e-4:
        raise SystemExit(f"FAIL: audio {key}: checkpoint {a[key]} vs embeddings {b[key]}")
print(f"audio: the same scores from the checkpoint and from its embeddings: top-1 {a['top1']:.3f}, EER {a['eer']:.4f}")
PY
check --exit 2 --match "missing/pooled.npy" -- "$imprint" eval --embeddings missing
check --exit 2 --match "--embeddings scores embeddings already made" -- \
  "$imprint" eval --embeddings peer --checkpoint "$ckpt"
check --exit 2 --match "--checkpoint and --data are required \(or --embeddings DIR\)" -- "$imprint" eval --data data
echo "PASS"
