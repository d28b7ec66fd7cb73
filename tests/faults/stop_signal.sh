#!/usr/bin/env bash
# stop_signal.sh IMPRINT CONFIG WORKDIR
# SIGUSR1 to ONE rank, and SIGUSR1 to mpirun (which forwards it to all): every rank stops at the same agreed
# step, rank 0 writes the checkpoint of that step, the job exits 75, and --resume finishes the run with the
# same training state as an uninterrupted run.
set -u
imprint="$1"; config="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2)
fail() { echo "FAIL: $*"; tail -20 "$work"/*.out 2>/dev/null; exit 1; }

"${mpirun[@]}" "$imprint" train --config "$config" --run-dir "$work/whole" >"$work/whole.out" 2>&1 || fail "reference run"
reference=$("$imprint" inspect "$work/whole/checkpoints/step-00000400.ckpt" | grep -o 'state digest: [0-9a-f]*')

for target in rank1 mpirun; do
  run="$work/$target"
  "${mpirun[@]}" "$imprint" train --config "$config" --run-dir "$run" >"$work/$target.out" 2>&1 &
  launcher=$!
  for _ in $(seq 1 300); do grep -q '"loss"' "$run/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
  if [ "$target" = rank1 ]; then
    for p in $(pgrep -f -- "--run-dir $run"); do
      [ "$(cat /proc/$p/comm)" = imprint ] && tr '\0' '\n' <"/proc/$p/environ" | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -USR1 "$p"
    done
  else
    kill -USR1 "$launcher"
  fi
  start=$(date +%s)
  wait "$launcher"; code=$?
  elapsed=$(( $(date +%s) - start ))
  echo "SIGUSR1 to $target: exit status $code after ${elapsed}s"
  [ "$code" -eq 75 ] || fail "exit status $code, expected 75"
  [ "$elapsed" -le 30 ] || fail "took ${elapsed}s to stop"
  step=$(grep -o 'stopped after step [0-9]* on SIGUSR1' "$work/$target.out" | grep -o '[0-9]*' | head -1)
  [ -n "$step" ] || fail "no 'stopped after step N on SIGUSR1' line"
  grep -q "stop signal received: checkpointing at the next step all ranks agree on, then exiting 75. Send it again" \
    "$work/$target.out" || fail "the signal's line does not say what happens"
  [ "$step" -lt 400 ] || fail "the run had finished before the signal"
  [ -f "$(printf '%s/checkpoints/step-%08d.ckpt' "$run" "$step")" ] || fail "no checkpoint at the agreed step $step"
  grep -Eq "\"event\":\"stopped\",.*\"signal\":\"SIGUSR1\",\"step\":$step[,}]" "$run/metrics.jsonl" || fail "no stop record"
  "${mpirun[@]}" "$imprint" train --config "$config" --run-dir "$run" --resume >"$work/$target-resume.out" 2>&1 \
    || fail "resume after SIGUSR1 to $target"
  got=$("$imprint" inspect "$run/checkpoints/step-00000400.ckpt" | grep -o 'state digest: [0-9a-f]*')
  [ "$got" = "$reference" ] || fail "resumed final state $got differs from the uninterrupted $reference"
done
echo "PASS"
