#!/usr/bin/env bash
# resume_cases.sh IMPRINT CONFIG WORKDIR — what `train --resume` does with a changed config, a finished
# run, a directory named like a checkpoint, and no --config.
set -u
imprint="$1"; config="$2"; work="$3"
expect="$(dirname "$0")/expect.sh"
rm -rf "$work"; mkdir -p "$work"
r="$work/run"
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
check --exit 0 -- "$imprint" train --config "$config" --run-dir "$r" --set train.steps=8 --set train.stop_at=4
# A forgotten --set must not silently change the run.
check --exit 2 --match 'resuming with a config that changes the run:' --match 'train\.steps: 8 -> 400' \
  --match 'pass --allow-config-change' -- "$imprint" train --config "$config" --run-dir "$r" --resume
# Keys that do not change what is trained may differ.
check --exit 0 --match 'config change on resume \(does not change what is trained\): train\.log_every: 10 -> 2' \
  --match 'resumed from .*step-00000004\.ckpt at step 4' -- \
  "$imprint" train --config "$config" --run-dir "$r" --resume --set train.steps=8 --set train.log_every=2 --set train.stop_at=6
# Without --config the saved config is used, train.stop_at aside (it belongs to one invocation).
check --exit 0 --match 'resumed from .*step-00000006\.ckpt at step 6' --match 'done: 8 steps' -- \
  "$imprint" train --run-dir "$r" --resume
check --exit 0 --match 'is already finished \(step 8 of 8\); nothing to do' -- "$imprint" train --run-dir "$r" --resume
check --exit 0 --match 'config change on resume \(allowed by --allow-config-change\): train\.steps: 8 -> 10' \
  --match 'done: 10 steps' -- "$imprint" train --run-dir "$r" --resume --set train.steps=10 --allow-config-change
# A directory named like a checkpoint is passed over with a warning naming it.
mkdir -p "$work/dir-ckpt/checkpoints/step-00000099.ckpt"
check --exit 0 --match 'checkpoint passed over: .*step-00000099\.ckpt: not a regular file' -- \
  "$imprint" train --config "$config" --run-dir "$work/dir-ckpt" --resume --set train.steps=2
check --exit 2 --match 'resume without --config: .*config.yaml does not exist' -- \
  "$imprint" train --run-dir "$work/nothing-here" --resume
# An evaluation due at train.stop_at runs before the stop: the resumed run starts after it.
check --exit 0 -- "$imprint" train --config "$config" --run-dir "$work/stop-eval" --set train.steps=40 \
  --set train.eval_every=20 --set train.stop_at=20
check --exit 0 -- "$imprint" train --run-dir "$work/stop-eval" --resume
evals=$(grep -o '"eval_top1":[^}]*"step":[0-9]*' "$work/stop-eval/metrics.jsonl" | grep -o '"step":[0-9]*' | tr '\n' ' ')
[ "$evals" = '"step":20 "step":40 ' ] || { echo "FAIL: evaluations at steps: $evals (expected 20 and 40)"; exit 1; }
echo "PASS"
