#!/usr/bin/env bash
# slow_link.sh IMPRINT CONFIG WORKDIR [DELAY_MS LOSS]
# A slow, lossy network between the hosts changes the time of a run, not what it trains: 2 emulated hosts x 1
# rank (tests/multihost/hosts.sh) train the same steps on a fast link and on a link where every packet a host
# sends waits DELAY_MS (default 20) and 1 in 100 (LOSS 0.01) is dropped — `tc netem delay 20ms loss 1%` on
# every host's interface, made with tests/multihost/slow_link.py over an iptables NFQUEUE rule inside each
# host's namespace, because CI's kernel has no netem. Both runs must end with the same state digest; prints
# both wall times, the slowdown, and the packets delayed and dropped.
# Exit 77 (skipped) where namespaces cannot be made or iptables is missing.
set -u
imprint="$(realpath "$1")"; config="$(realpath "$2")"; work="$(realpath -m "$3")"
delay_ms="${4:-20}"; loss="${5:-0.01}"
steps=${MH_SLOW_STEPS:-20}
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/hosts.sh"
command -v iptables >/dev/null || mh_skip "iptables is not installed (launch/setup.sh --tests): no way to slow the link"
rm -rf "$work"; mkdir -p "$work"
mh_up 2 "$work" --slots 1
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
set_args=(--set "train.steps=$steps" --set train.log_every=5 --set "checkpoint.every=$steps"
          --set distributed.timeout_s=120)
digest() { "$imprint" inspect "$1/checkpoints/step-$(printf %08d "$steps").ckpt" | grep -o 'state digest: [0-9a-f]*'; }
train() {  # train NAME: prints the wall time in seconds
  local start; start=$(date +%s.%N)
  mh_mpirun -np 2 "$imprint" train --config "$config" --run-dir "$work/$1" "${set_args[@]}" >"$work/$1.out" 2>&1 ||
    { tail -30 "$work/$1.out" >&2; fail "$1: exit status $?"; }
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'
}

fast_s=$(train fast) || exit 1
for h in node1 node2; do
  mh_exec "$h" iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass 2>"$work/iptables.err" ||
    mh_skip "cannot add an NFQUEUE rule in the namespace: $(cat "$work/iptables.err")"
  mh_exec "$h" python3 "$here/slow_link.py" 0 "$delay_ms" "$loss" "${h#node}" >"$work/slow_link-$h.log" 2>&1 &
done
for h in node1 node2; do
  for _ in $(seq 1 50); do grep -q "delay" "$work/slow_link-$h.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "delay" "$work/slow_link-$h.log" || fail "slow_link.py did not start on $h: $(cat "$work/slow_link-$h.log")"
done
# The link is slow now: a round trip takes at least twice the delay.
rtt=$(mh_exec node1 python3 -c "
import socket, time
t = time.time()
try: socket.create_connection(('10.231.0.2', 9), timeout=10)
except ConnectionRefusedError: pass
print('%.0f' % ((time.time() - t) * 1000))")
echo "round trip node1 -> node2 on the slow link: ${rtt} ms"
[ "$rtt" -ge $((2 * delay_ms)) ] || fail "the link is not slow: a round trip took ${rtt} ms"
slow_s=$(train slow) || exit 1
for h in node1 node2; do mh_signal "$h" TERM; done  # slow_link.py prints its counts and lets held packets go
sleep 1
cat "$work"/slow_link-node*.log | grep packets
fast=$(digest "$work/fast"); slow=$(digest "$work/slow")
echo "fast link: ${fast_s} s, $fast"
echo "slow link (delay ${delay_ms} ms, loss $loss): ${slow_s} s, $slow"
# Per step, from the logged steps' times (start-up excluded): the first logged step to the last.
per_step() { grep '"loss"' "$work/$1/metrics.jsonl" | sed -E 's/.*"step":([0-9]+).*"time":([0-9.]+).*/\1 \2/' |
  awk 'NR == 1 {s0 = $1; t0 = $2} {s = $1; t = $2} END {printf "%.3f", (t - t0) / (s - s0)}'; }
fast_step=$(per_step fast); slow_step=$(per_step slow)
awk -v f="$fast_s" -v s="$slow_s" -v fs="$fast_step" -v ss="$slow_step" \
  'BEGIN {printf "slowdown: %.1fx per step (%.3f s instead of %.3f), %.1fx in wall time\n", ss / fs, ss, fs, s / f}'
[ -n "$fast" ] && [ "$fast" = "$slow" ] || fail "the slow link trained to another state"
dropped=$(cat "$work"/slow_link-node*.log | awk '/packets/ {d += $(NF - 1)} END {print d + 0}')
[ "$loss" = 0 ] || [ "$dropped" -gt 0 ] || fail "no packet was dropped: the loss was not applied"
echo "PASS"
