#!/usr/bin/env bash
# tensorboard_roundtrip.sh IMPRINT PYTHON CONFIG WORKDIR — a run that crashes after logging steps it had not
# checkpointed, then resumes: TensorBoard's reader must see every logged step once, with metrics.jsonl's values.
set -euo pipefail
imprint="$1"; python="$2"; config="$3"; work="$4"
[ -x "$python" ] || { echo "SKIPPED: no test Python at $python (bash launch/setup.sh --tests makes it)"; exit 77; }
rm -rf "$work"
"$imprint" train --config "$config" --run-dir "$work" --set train.steps=60 --set train.eval_every=20 \
  --set checkpoint.every=20 --set train.stop_at=50 >/dev/null
rm "$work/checkpoints/step-00000050.ckpt"  # as if the job died after logging step 50
"$imprint" train --config "$config" --run-dir "$work" --resume --set train.steps=60 --set train.eval_every=20 \
  --set checkpoint.every=20 >/dev/null
"$python" "$(dirname "$0")/check_tensorboard.py" "$work"
