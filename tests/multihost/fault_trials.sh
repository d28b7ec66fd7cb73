#!/usr/bin/env bash
# fault_trials.sh IMPRINT CONFIG WORKDIR [TRIALS]
# Runs every case of fault_across_hosts.sh TRIALS times (default 3) and prints the markdown table of
# docs/benchmarks.md ("Several hosts"): per case, the trials that passed (every rank that could run ended in
# time, the expected exit status, a message naming the ranks and the host, nothing left on any host), and
# the seconds from the fault to the end of the last rank and of mpirun. Not a ctest test (a few minutes).
set -u
imprint="$1"; config="$2"; work="$(realpath -m "$3")"; trials="${4:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work"
echo "| case | trials | passed | ranks ended, median s | max s | mpirun ended, median s | max s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in link_cut host_stopped host_killed never_joins; do
  passed=0; ranks=(); launcher=()
  for t in $(seq 1 "$trials"); do
    log="$work/$c-$t.log"
    bash "$here/fault_across_hosts.sh" "$c" "$imprint" "$config" "$work/$c-$t" >"$log" 2>&1 && passed=$((passed + 1))
    line=$(grep "^case $c:" "$log")
    ranks+=("$(echo "$line" | sed -E 's/.*ended ([0-9.]+) s after the fault.*/\1/')")
    launcher+=("$(echo "$line" | sed -E 's/.*mpirun ended after ([0-9.]+) s.*/\1/')")
  done
  stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {printf "%s | %s", v[int((NR + 1) / 2)], v[NR]}'; }
  echo "| $c | $trials | $passed | $(stats "${ranks[@]}") | $(stats "${launcher[@]}") |"
done
