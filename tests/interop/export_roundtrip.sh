#!/usr/bin/env bash
# export_roundtrip.sh IMPRINT PYTHON CONFIG MODALITY WORKDIR [MODEL [KEY=VALUE]] — trains a few steps
# (model.name MODEL, default auto; one more config override), exports the encoder, and has Python's safetensors and torch.jit read it back and agree with
# `imprint embed` (check_export.py).
set -euo pipefail
imprint="$1"; python="$2"; config="$3"; modality="$4"; work="$5"; model="${6:-auto}"
extra=(); [ -n "${7:-}" ] && extra=(--set "$7")
[ -x "$python" ] || { echo "SKIPPED: no test Python at $python (bash launch/setup.sh --tests makes it)"; exit 77; }
rm -rf "$work"
audio=()
[ "$modality" = audio ] && audio=(--set data.clip_seconds=0.25 --set model.audio.n_mels=24 --set model.audio.n_fft=128
                                  --set model.audio.hop=64)
"$imprint" train --config "$config" --run-dir "$work/run" --set train.steps=10 --set data.modality="$modality" --set model.name="$model" \
  "${audio[@]}" "${extra[@]}" >"$work.train.log" 2>&1 || { tail -20 "$work.train.log"; exit 1; }
"$imprint" export --checkpoint "$work/run/checkpoints/step-00000010.ckpt" --out "$work/export"
"$python" "$(dirname "$0")/check_export.py" "$imprint" "$work/export" "$work/check"
