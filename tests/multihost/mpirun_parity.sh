#!/usr/bin/env bash
# mpirun_parity.sh HOSTS RANKS_PER_HOST IMPRINT CONFIG WORKDIR
# Training across emulated hosts (tests/multihost/hosts.sh) under mpirun over TCP gives, bit for bit, the
# training state of the same number of ranks on one host, and the loss of one rank:
#   1. the run on HOSTS hosts x RANKS_PER_HOST ranks (mpirun on node1, remote daemons through ns_rsh.sh);
#   2. the same ranks with plain mpirun on this one machine: the same state digest (imprint inspect);
#   3. one process: the same logged losses, to 1e-4 relative (float32 sums in another order are the only
#      difference between 1 and N ranks; docs/running.md);
#   4. rank 0 logs where the ranks ran and their local ranks: 0..RANKS_PER_HOST-1 on every host.
# Prints each run's wall time. Exit 77 (skipped) where namespaces cannot be made.
set -u
hosts="$1"; per_host="$2"; imprint="$(realpath "$3")"; config="$(realpath "$4")"; work="$(realpath -m "$5")"
ranks=$((hosts * per_host))
steps=${MH_PARITY_STEPS:-30}
source "$(dirname "$0")/hosts.sh"
rm -rf "$work"; mkdir -p "$work"
mh_up "$hosts" "$work" --slots "$per_host"
cd "$work"
# A global batch every rank count here divides (16 for 1, 2 and 4 ranks; 12 for 3).
batch=16; [ $((batch % ranks)) -eq 0 ] || batch=12
set_args=(--set "train.steps=$steps" --set "train.batch_size=$batch" --set train.log_every=5
          --set "checkpoint.every=$steps" --set distributed.timeout_s=60)
fail() { echo "FAIL: $*"; exit 1; }
digest() { "$imprint" inspect "$1/checkpoints/step-$(printf %08d "$steps").ckpt" | grep -o 'state digest: [0-9a-f]*'; }
timed() {  # timed NAME CMD...: runs CMD, output to NAME.out, prints its wall time
  local name="$1" start; shift
  start=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>&1 || { local code=$?; tail -30 "$work/$name.out"; fail "$name: exit status $code"; }
  awk -v a="$start" -v b="$(date +%s.%N)" -v n="$name" 'BEGIN {printf "%s: %.1f s\n", n, b - a}'
}

timed "across-${hosts}-hosts" mh_mpirun -np "$ranks" "$imprint" train --config "$config" --run-dir "$work/hosts-run" \
  "${set_args[@]}"
timed "one-host-${ranks}-ranks" mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$ranks" \
  "$imprint" train --config "$config" --run-dir "$work/one-host" "${set_args[@]}"
timed "one-rank" "$imprint" train --config "$config" --run-dir "$work/one-rank" "${set_args[@]}"

layout=$(grep -o 'ranks by host: .*' "$work/across-${hosts}-hosts.out" | head -1)
echo "$layout"
expected="ranks by host:"
for h in $(seq 1 "$hosts"); do
  first=$(( (h - 1) * per_host )); last=$(( h * per_host - 1 ))
  if [ "$per_host" -eq 1 ]; then r="$first"; l=0; elif [ "$per_host" -eq 2 ]; then r="$first $last"; l="0 1"
  else r="$first-$last"; l="0-$((per_host - 1))"; fi
  expected="$expected$([ "$h" -gt 1 ] && echo ";") node$h: rank(s) $r (local $l)"
done
[ "$layout" = "$expected" ] || fail "rank layout: got '$layout', expected '$expected'"

across=$(digest "$work/hosts-run"); one_host=$(digest "$work/one-host")
echo "across $hosts hosts: $across; $ranks ranks on one host: $one_host"
[ -n "$across" ] && [ "$across" = "$one_host" ] || fail "the multi-host run's state differs from the one-host run's"

# The logged losses of N ranks against one rank's, step by step.
losses() { grep '"loss"' "$1/metrics.jsonl" | sed -E 's/.*"loss":([-0-9.e]+).*"step":([0-9]+).*/\2 \1/'; }
paste <(losses "$work/hosts-run") <(losses "$work/one-rank") >"$work/losses"
[ "$(wc -l <"$work/losses")" -ge 3 ] || fail "too few loss records to compare: $(cat "$work/losses")"
awk '{ if ($1 != $3) { print "step mismatch: " $0; bad = 1 }
       d = $2 - $4; if (d < 0) d = -d; s = $4 < 0 ? -$4 : $4; r = d / (s > 1e-12 ? s : 1e-12);
       if (r > worst) worst = r; if (r > 1e-4) { print "loss differs at step " $1 ": " $2 " vs " $4; bad = 1 } }
     END { printf "losses of %d logged steps agree with one rank to %.1e relative (limit 1e-4)\n", NR, worst; exit bad }' \
  "$work/losses" || fail "the multi-host run's losses differ from one rank's"
echo "PASS"
