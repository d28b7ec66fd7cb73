#!/usr/bin/env bash
# Training throughput of `imprint train` on 2 ranks, with distributed.sleep_while_waiting (the default) and
# without (OpenMPI's polling wait: "polling", the default before 2026-12-08), against
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
tmp=$(mktemp -d)
hog=
cleanup() {
  [ -n "$hog" ] && kill "$hog" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

source bench/smoke_runs.sh

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
    now=$(imprint_run sleep 2 64 --set distributed.sleep_while_waiting=true | cut -d' ' -f1)
    old=$(imprint_run polling 2 64 --set distributed.sleep_while_waiting=false | cut -d' ' -f1)
    ddp=$(ddp_run | awk '{print $3}')
    echo "$label round $round: sleep_while_waiting $now  polling $old  ddp $ddp"
    echo "$now $old $ddp" >>"$tmp/rows"
  done
  /usr/bin/python3 - "$tmp/rows" "$label" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda xs: st.median(xs)
now = [float(r[0]) for r in rows]; ddp = [float(r[2]) for r in rows]
old = [float(r[1]) for r in rows]
ratio = lambda xs, ys: med([a / b for a, b in zip(xs, ys)])
print(f"{sys.argv[2]}: median samples/s sleep_while_waiting {med(now):.1f}, polling {med(old):.1f}, DDP {med(ddp):.1f}; "
      f"per-round medians: sleep/DDP {ratio(now, ddp):.3f}, polling/DDP {ratio(old, ddp):.3f}, sleep/polling {ratio(now, old):.3f}")
PY
  if [ -n "$hog" ]; then
    kill "$hog"
    hog=
  fi
done
