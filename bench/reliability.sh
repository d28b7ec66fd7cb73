#!/usr/bin/env bash
# bench/reliability.sh [TRIALS] [KILLS] — how imprint fails, counted (figures for docs/benchmarks.md).
#
# 1. Failure classes (tests/faults/fault_case.sh, the real binary under mpirun -np 2, distributed.timeout_s
#    5 s): for each class, TRIALS trials; counts the trials that ended every rank within timeout + 30 s with
#    the expected exit status and a message naming the rank, and the median/max time from the fault to the
#    end of the job.
# 2. kill -9 during checkpoint writes: KILLS runs that checkpoint every step (a larger model, so writes take
#    a while), each killed (SIGKILL to rank 0, the writer) at a random moment; then every checkpoint file
#    left is verified (`imprint inspect`) and `--resume` must continue from the newest intact one.
set -uo pipefail
cd "$(dirname "$0")/.."
trials="${1:-5}"; kills="${2:-20}"
imprint=./build/imprint
work="${TMPDIR:-/tmp}/imprint-reliability"
rm -rf "$work"; mkdir -p "$work"
echo "# imprint reliability, $(date -u +%F), $(nproc) cores, mpirun -np 2, distributed.timeout_s 5 s, $trials trials per class"
printf '%-12s %6s %10s %10s %10s\n' class trials "in time" "median s" "max s"
for class in stall stall_tcp kill throw exit hang never_joins no_launcher; do
  ok=0; times=()
  for t in $(seq 1 "$trials"); do
    out=$(bash tests/faults/fault_case.sh "$class" "$imprint" tests/cli/tiny.yaml "$work/$class-$t" 2>&1)
    secs=$(echo "$out" | grep -o 'after [0-9]*s (limit' | grep -o '[0-9]*' | head -1)
    times+=("${secs:-999}")
    echo "$out" | grep -qx PASS && ok=$((ok + 1))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  printf '%-12s %6d %10d %10s %10s\n' "$class" "$trials" "$ok" "${sorted[$(( ${#sorted[@]} / 2 ))]}" "${sorted[-1]}"
done

echo
echo "# kill -9 of the checkpoint writer (rank 0) at a random moment, checkpoint every step, $kills runs"
corrupt=0; files=0; resumed=0; tmp_left=0
for k in $(seq 1 "$kills"); do
  run="$work/kill-$k"
  mpirun --allow-run-as-root --oversubscribe -np 2 "$imprint" train --config tests/cli/tiny.yaml --run-dir "$run" \
    --set model.width=48 --set model.embed_dim=256 --set checkpoint.every=1 --set checkpoint.keep=4 \
    --set train.steps=100000 >"$run.out" 2>&1 &
  launcher=$!
  for _ in $(seq 1 300); do ls "$run"/checkpoints/*.ckpt >/dev/null 2>&1 && break; sleep 0.1; done
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  for p in $(pgrep -f -- "--run-dir $run "); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = imprint ] && tr '\0' '\n' <"/proc/$p/environ" | grep -qx OMPI_COMM_WORLD_RANK=0 && kill -9 "$p"
  done
  wait "$launcher" 2>/dev/null
  for f in "$run"/checkpoints/*.ckpt; do
    files=$((files + 1))
    "$imprint" inspect "$f" >/dev/null 2>&1 || corrupt=$((corrupt + 1))
  done
  tmp_left=$((tmp_left + $(ls "$run"/checkpoints/*.tmp 2>/dev/null | wc -l)))
  "$imprint" train --run-dir "$run" --resume >"$run.resume.out" 2>&1 &
  resume=$!
  sleep 3; kill -INT "$resume" 2>/dev/null; wait "$resume"; code=$?
  [ "$code" -eq 75 ] && resumed=$((resumed + 1))
done
echo "runs killed: $kills; checkpoint files left: $files; corrupt: $corrupt; temp files left: $tmp_left (ignored by --resume)"
echo "runs that resumed from the newest intact checkpoint and then stopped cleanly on SIGINT (exit 75): $resumed of $kills"
