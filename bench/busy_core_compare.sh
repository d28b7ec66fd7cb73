#!/usr/bin/env bash
# Training throughput of `imprint train` on 2 ranks, with distributed.sleep_while_waiting and without, against
# PyTorch DDP (bench/ddp_reference.py), with one core of the machine taken by another process (a busy loop)
# and with the machine idle: how much a rank that waits for its peer takes from the compute that machine
# needs. Rounds alternate the runs, so slow phases of a shared VM hit every configuration alike; medians and
# per-round ratios are printed.
#
#   bash bench/busy_core_compare.sh [rounds=5] [steps=60]
#
# The setting is bench/ddp_compare.sh's: one thread per rank, global batch 64 pairs of 32x32 images, the
# smoke image encoder; the first log interval is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
steps="${2:-60}"
mpirun=(mpirun --allow-run-as-root --oversubscribe)
tmp=$(mktemp -d)
hog=
cleanup() {
  [ -n "$hog" ] && kill "$hog" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

samples_per_s() {  # metrics.jsonl -> mean samples/s without the first interval
  /usr/bin/python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '\"loss\"' in l][1:]
print(f'{sum(r[\"samples_per_s\"] for r in rows) / len(rows):.1f}')" "$1"
}
imprint_run() {  # extra --set options
  rm -rf "${tmp:?}/run"
  "${mpirun[@]}" -np 2 ./build/imprint train --config configs/smoke-image.yaml --run-dir "$tmp/run" --set train.steps="$steps" \
    --set train.log_every=10 --set train.eval_every=0 --set checkpoint.every=0 --set train.threads=1 \
    --set data.workers=1 --set train.batch_size=64 "$@" >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; exit 1; }
  samples_per_s "$tmp/run/metrics.jsonl"
}
ddp_run() {
  "${mpirun[@]}" -np 2 /usr/bin/python3 bench/ddp_reference.py --steps "$steps" --batch 64 --threads 1 \
    --port $((29500 + RANDOM % 400)) 2>&1 | awk '/ddp samples\/s/ {print $3}'
}

for busy in 1 0; do
  if [ "$busy" = 1 ]; then
    (while :; do :; done) &
    hog=$!
    label="one core busy"
  else
    label="idle"
  fi
  : >"$tmp/rows"
  for round in $(seq "$rounds"); do
    now=$(imprint_run --set distributed.sleep_while_waiting=true)
    old=$(imprint_run)
    ddp=$(ddp_run)
    echo "$label round $round: sleep_while_waiting $now  default $old  ddp $ddp"
    echo "$now $old $ddp" >>"$tmp/rows"
  done
  /usr/bin/python3 - "$tmp/rows" "$label" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda xs: st.median(xs)
now = [float(r[0]) for r in rows]; ddp = [float(r[2]) for r in rows]
old = [float(r[1]) for r in rows]
ratio = lambda xs, ys: med([a / b for a, b in zip(xs, ys)])
print(f"{sys.argv[2]}: median samples/s sleep_while_waiting {med(now):.1f}, default {med(old):.1f}, DDP {med(ddp):.1f}; "
      f"per-round medians: sleep/DDP {ratio(now, ddp):.3f}, default/DDP {ratio(old, ddp):.3f}, sleep/default {ratio(now, old):.3f}")
PY
  if [ -n "$hog" ]; then
    kill "$hog"
    hog=
  fi
done
