#!/usr/bin/env bash
# fault_across_hosts.sh CASE IMPRINT CONFIG WORKDIR
# The failure contract across hosts: the real `imprint train` under the real mpirun, 2 emulated hosts x 2
# ranks (tests/multihost/hosts.sh: ranks 0-1 on node1, where mpirun runs, ranks 2-3 on node2), TCP between
# the hosts, distributed.timeout_s = 5. Something happens to node2 mid-training; every rank that can run
# must end within distributed.timeout_s + 10 s, the output must name the ranks and the host, the exit status
# must say what happened, and nothing of the job may be left on any host.
#   link_cut     node2's cable is unplugged (its switch port goes down: packets vanish, no socket is told).
#                The ranks of BOTH hosts must end (each side's watchdog). mpirun and node2's orted cannot reach
#                each other: they wait for TCP to give up (tcp_retries2) — so the cable is plugged back in once
#                the ranks have ended, and the launchers must then be gone within 15 s.
#   host_stopped every process of node2 is stopped (SIGSTOP: a frozen node, its orted too). node1's ranks must
#                end; node2 cannot until it runs again, and mpirun waits for its daemon (the node's kernel still
#                acknowledges): node2 is resumed (SIGCONT) once node1's ranks have ended, and everything must be
#                gone within 15 s.
#   host_killed  every process of node2 is killed (SIGKILL: a node lost with its ranks). mpirun too must end
#                within the limit.
#   never_joins  node2's ranks never reach MPI start-up (stopped before exec): node1's ranks end on the start-up
#                deadline (exit 5), mpirun within the limit.
# Prints the time from the fault to the end of the last rank that could end, and of mpirun.
# Exit 77 (skipped) where namespaces cannot be made.
set -u
case_name="$1"; imprint="$(realpath "$2")"; config="$(realpath "$3")"; work="$(realpath -m "$4")"
timeout_s=5
limit=$((timeout_s + 10))
source "$(dirname "$0")/hosts.sh"
rm -rf "$work"; mkdir -p "$work"
mh_up 2 "$work"
run_dir="$work/run"
out="$work/out"
train=("$imprint" train --config "$config" --run-dir "$run_dir" --set "distributed.timeout_s=$timeout_s"
       --set train.steps=100000 --set checkpoint.every=100000)

ranks_on() { mh_alive_on "$1" "^$imprint train .*--run-dir $run_dir"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
within() { awk -v e="$1" -v l="$2" 'BEGIN {exit !(e <= l)}'; }
fail() { echo "FAIL: $*"; echo "--- output"; tail -40 "$out"; exit 1; }
show_left() {
  local h
  for h in node1 node2; do
    echo "  on $h:"; ps -o pid=,stat=,args= -p "$(mh_running "$h" | paste -sd,)" 2>/dev/null | cut -c1-150
  done
}

case "$case_name" in
  never_joins)
    launch=(sh -c 'if [ "$(hostname)" = node2 ]; then kill -STOP $$; fi; exec "$@"' sh "${train[@]}") ;;
  link_cut|host_stopped|host_killed) launch=("${train[@]}") ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac

cd "$work"
mh_mpirun -np 4 "${launch[@]}" >"$out" 2>&1 &
launcher=$!
fault_at=$(now)
if [ "$case_name" != never_joins ]; then
  for _ in $(seq 1 600); do grep -q '"loss"' "$run_dir/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
  grep -q '"loss"' "$run_dir/metrics.jsonl" 2>/dev/null || { kill -9 $launcher; fail "training never started"; }
  [ -n "$(ranks_on node2)" ] || fail "no rank runs on node2"
  fault_at=$(now)
  case "$case_name" in
    link_cut) mh_link_down node2 ;;
    host_stopped) mh_signal node2 STOP ;;
    host_killed) mh_signal node2 KILL ;;
  esac
  echo "fault: $case_name at $(date -u +%T)"
else  # the fault is the launch itself; node1's ranks must appear, then end
  for _ in $(seq 1 300); do [ "$(ranks_on node1 | wc -l)" -eq 2 ] && break; sleep 0.1; done
  [ "$(ranks_on node1 | wc -l)" -eq 2 ] || { kill -9 $launcher; fail "node1's ranks never started"; }
fi

# 1. The ranks that can run end: both hosts' (node1's alone while node2 is stopped).
live_hosts="node1 node2"
[ "$case_name" = host_stopped ] && live_hosts="node1"
ranks_ended=""
give_up=$(( $(date +%s) + limit + 30 ))
while [ "$(date +%s)" -le "$give_up" ]; do
  left=""
  for h in $live_hosts; do left="$left$(ranks_on "$h")"; done
  [ -z "$left" ] && { ranks_ended=$(now); break; }
  sleep 0.2
done
ranks_s=$(secs "$fault_at" "${ranks_ended:-$(now)}")
[ -n "$ranks_ended" ] || { show_left; kill -9 $launcher; fail "ranks still running $ranks_s s after the fault"; }

# 2. mpirun ends: at once after a killed host or one that never joined; after a frozen host runs again, or a
#    cut link is back (a launcher cannot tell those from a slow host).
case "$case_name" in
  host_stopped) mh_signal node2 CONT; back_at=$(now) ;;
  link_cut) mh_link_up node2; back_at=$(now) ;;
  *) back_at="" ;;
esac
launcher_ended=""
give_up=$(( $(date +%s) + limit + 30 ))
while [ "$(date +%s)" -le "$give_up" ]; do
  kill -0 $launcher 2>/dev/null || { launcher_ended=$(now); break; }
  sleep 0.2
done
launcher_s=$(secs "$fault_at" "${launcher_ended:-$(now)}")
if [ -n "$launcher_ended" ]; then wait $launcher; code=$?; else code=hung; fi
# 3. Nothing of the job is left on any host (orted, shells, ranks of a resumed host).
leftover=""
give_up=$(( $(date +%s) + 15 ))
while [ "$(date +%s)" -le "$give_up" ]; do
  leftover="$(mh_running node1)$(mh_running node2)"
  [ -z "$leftover" ] && break
  sleep 0.2
done
left_s=$(secs "$fault_at" "$(now)")

grep -vE '^ |^\{|^[a-z_]+:$|\[info\]' "$out" | tail -25
echo "case $case_name: the ranks that could run ended ${ranks_s} s after the fault (limit ${limit} s);" \
  "mpirun ended after ${launcher_s} s${back_at:+ (node2 back after $(secs "$fault_at" "$back_at") s)}, exit status $code"
if [ -n "$leftover" ]; then show_left; kill -9 $launcher 2>/dev/null; fail "processes of the job left on the hosts ${left_s} s after the fault"; fi
[ "$code" != hung ] || fail "mpirun did not end"
[ "$code" -ne 0 ] || fail "the job succeeded"
within "$ranks_s" "$limit" || fail "the ranks took ${ranks_s} s to end, more than ${limit} s"
if [ -z "$back_at" ]; then
  within "$launcher_s" "$limit" || fail "mpirun took ${launcher_s} s to end, more than ${limit} s"
else
  within "$(secs "$back_at" "$launcher_ended")" 15 || fail "mpirun took more than 15 s to end once node2 was back"
fi

case "$case_name" in
  link_cut|host_stopped)
    # node1's ranks name node2's, and their host, as not answering
    regex='rank [01]: .* did not finish within 5 s \(distributed.timeout_s\); .*not responding \(stopped, hung or dead\): rank\(s\) 2 3 on host node2 \(this rank runs on node1\)'
    [ "$code" -eq 4 ] || fail "exit status $code, expected 4 (a collective timed out)" ;;
  host_killed)
    # mpirun ends the job at once, in its own words (the ranks get no time to time out): it names the host whose
    # daemon it lost; the start-up line of rank 0 says which ranks ran there.
    regex='Remote daemon: .* on node node2'
    grep -q 'ranks by host: node1: rank(s) 0 1 (local 0 1); node2: rank(s) 2 3 (local 0 1)' "$out" ||
      fail "no start-up line naming the ranks of each host" ;;
  never_joins)
    regex='rank [01]: MPI start-up .* did not finish within 5 s \(distributed.timeout_s\) on host node1: .*the rank\(s\) of 0\.\.3 missing from these lines never joined'
    [ "$code" -eq 5 ] || fail "exit status $code, expected 5 (MPI start-up timed out)"
    ! grep -Eq 'rank [23]: MPI start-up' "$out" || fail "a rank of node2 reports start-up: it was never started" ;;
esac
grep -Eq "$regex" "$out" || fail "output does not match: $regex"
echo "PASS"
