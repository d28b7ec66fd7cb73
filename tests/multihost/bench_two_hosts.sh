#!/usr/bin/env bash
# bench_two_hosts.sh IMPRINT WORKDIR [ROUNDS] [STEPS] [CONFIG]
# samples/s of 2 ranks on one host (mpirun -np 2 on node1: shared memory between them) against 2 emulated
# hosts x 1 rank (TCP over veth pairs and a bridge, tests/multihost/hosts.sh); same config (default
# configs/smoke-image.yaml, STEPS steps, default 120), same cores, alternated ROUNDS times (default 3) so that
# other load on the machine falls on both alike. Prints each run's median samples/s over its logged intervals
# (the first, with start-up, left out; evaluation intervals too) and wall time, the median of each over the
# rounds, and checks that every run ends with the same state digest.
# Not a ctest test (several minutes): the figure of docs/benchmarks.md ("Several hosts").
set -u
imprint="$(realpath "$1")"; work="$(realpath -m "$2")"; rounds="${3:-3}"; steps="${4:-120}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
config="$(realpath "${5:-$src/configs/smoke-image.yaml}")"
source "$src/tests/multihost/hosts.sh"
rm -rf "$work"; mkdir -p "$work"
mh_up 2 "$work" --slots 1
cd "$work"
sets=(--set train.threads=1 --set "train.steps=$steps" --set "checkpoint.every=$steps" --set train.eval_every=0)
# The dataset (made on first use) once, before any timed run.
mh_exec node1 "$imprint" train --config "$config" --run-dir "$work/warm-up" "${sets[@]}" --set train.steps=1 \
  --set checkpoint.every=1 >"$work/warm-up.out" 2>&1 || { tail -20 "$work/warm-up.out"; exit 1; }
rate() { grep '"samples_per_s"' "$1/metrics.jsonl" | tail -n +2 | sed -E 's/.*"samples_per_s":([0-9.]+).*/\1/' |
  sort -n | awk '{v[NR] = $1} END {printf "%.0f", v[int((NR + 1) / 2)]}'; }
digest() { "$imprint" inspect "$1/checkpoints/step-$(printf %08d "$steps").ckpt" | grep -o 'state digest: [0-9a-f]*'; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
one=(); two=(); one_wall=(); two_wall=(); digests=()
run() {  # run NAME CMD...: prints "RATE WALL"
  local name="$1" start; shift
  start=$(date +%s.%N)
  "$@" "$imprint" train --config "$config" --run-dir "$work/$name" "${sets[@]}" >"$work/$name.out" 2>&1 ||
    { tail -20 "$work/$name.out" >&2; echo "FAIL: $name" >&2; exit 1; }
  echo "$(rate "$work/$name") $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')"
}
for r in $(seq 1 "$rounds"); do
  read -r a b < <(run "one-host-$r" mh_exec node1 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
  one+=("$a"); one_wall+=("$b")
  digests+=("$(digest "$work/one-host-$r")")
  read -r c d < <(run "two-hosts-$r" mh_mpirun -np 2)
  two+=("$c"); two_wall+=("$d")
  digests+=("$(digest "$work/two-hosts-$r")")
  echo "round $r: one host, 2 ranks: $a samples/s, $b s; two hosts x 1 rank: $c samples/s, $d s; load $(cut -d' ' -f1 /proc/loadavg)"
done
echo "median over $rounds rounds: one host $(median "${one[@]}") samples/s ($(median "${one_wall[@]}") s)," \
  "two hosts $(median "${two[@]}") samples/s ($(median "${two_wall[@]}") s)"
[ "$(printf '%s\n' "${digests[@]}" | sort -u | wc -l)" -eq 1 ] || { echo "FAIL: digests differ: ${digests[*]}"; exit 1; }
echo "every run: ${digests[0]}"
