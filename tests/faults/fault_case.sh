#!/usr/bin/env bash
# fault_case.sh CASE IMPRINT CONFIG WORKDIR
# Runs the real `imprint train` under the real launcher (mpirun, 2 ranks), makes rank 1 fail in the way CASE
# names, and checks that EVERY rank ends within distributed.timeout_s + 30 s, with the expected exit status
# and a message naming the rank (and the collective and step where one is involved).
#   stall        rank 1 is stopped (SIGSTOP) mid-training
#   stall_tcp    the same with OpenMPI restricted to TCP (no shared memory, no one-sided windows)
#   kill         rank 1 is killed (SIGKILL) mid-training
#   throw        rank 1 throws at step 20 (IMPRINT_FAULT=throw@1:20)
#   exit         rank 1 exits at step 20 without a word (IMPRINT_FAULT=exit@1:20)
#   hang         rank 1's training thread hangs outside any collective at step 20 (IMPRINT_FAULT=hang@1:20)
#   slow_checkpoint  rank 0 is held up after writing the step-20 checkpoint (IMPRINT_FAULT=hang@0:21), as a
#                checkpoint write longer than the timeout holds it: rank 1's message says what rank 0 was doing
#   never_joins  rank 1 is stopped before it starts MPI
#   no_launcher  one process with OMPI_COMM_WORLD_SIZE=2 but no mpirun
set -u
case_name="$1"; imprint="$2"; config="$3"; work="$4"
timeout_s=5
limit=$((timeout_s + 30))
rm -rf "$work"; mkdir -p "$work"
run_dir="$work/run"
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2)
train=("$imprint" train --config "$config" --run-dir "$run_dir" --set "distributed.timeout_s=$timeout_s")

# PID of the training process of rank $1 (a child of mpirun whose environment names that rank).
rank_pid() {
  for p in $(pgrep -f -- "--run-dir $run_dir"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      case "$(cat /proc/$p/comm 2>/dev/null)" in imprint) echo "$p"; return;; esac
    fi
  done
}
# Waits until training has logged a step (so the fault lands mid-training).
wait_for_training() {
  for _ in $(seq 1 600); do
    grep -q '"loss"' "$run_dir/metrics.jsonl" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: training never started"; exit 1
}

expect_code=""; regex=""; env=()
if [ "$case_name" = stall_tcp ]; then
  export OMPI_MCA_btl=self,tcp
  case_name=stall
fi
case "$case_name" in
  stall|kill)
    expect_code=4; [ "$case_name" = kill ] && expect_code=""
    regex='rank 0: .* \(collective #[0-9]+, step [0-9]+\) did not finish within 5 s .*rank\(s\) 1'
    [ "$case_name" = kill ] && regex='process rank 1 .*(signal 9|Killed)'
    ;;
  throw) env=(-x IMPRINT_FAULT=throw@1:20); expect_code=1
    regex='\[rank 1\] error: IMPRINT_FAULT: injected exception on rank 1 at step 20' ;;
  exit) env=(-x IMPRINT_FAULT=exit@1:20)
    regex='Process name: \[\[[0-9]+,[0-9]+\],1\]' ;;  # mpirun's words for rank 1
  hang) env=(-x IMPRINT_FAULT=hang@1:20); expect_code=4
    regex='rank 0: .* \(collective #[0-9]+, step 20\) did not finish within 5 s .*missing: rank\(s\) 1 ' ;;
  slow_checkpoint) env=(-x IMPRINT_FAULT=hang@0:21); expect_code=4
    train+=(--set checkpoint.every=20)
    regex='rank 1: .* \(collective #[0-9]+, step 21, after the step-20 checkpoint that rank 0 writes\) did not finish within 5 s .*missing: rank\(s\) 0' ;;
  never_joins) expect_code=5
    regex='MPI start-up .* did not finish within 5 s' ;;
  no_launcher) expect_code=5
    regex='launch error: MPI reports rank 0 of 1 but the launch environment \(mpirun\) says rank 0 of 2' ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac

start=$(date +%s)
case "$case_name" in
  never_joins)
    timeout $((limit + 60)) "${mpirun[@]}" sh -c \
      'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then kill -STOP $$; fi; exec "$@"' sh "${train[@]}" >"$work/out" 2>&1 &
    ;;
  no_launcher)
    OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 timeout $((limit + 60)) "${train[@]}" >"$work/out" 2>&1 &
    ;;
  *)
    timeout $((limit + 60)) "${mpirun[@]}" "${env[@]}" "${train[@]}" >"$work/out" 2>&1 &
    ;;
esac
launcher=$!
case "$case_name" in
  stall|kill)
    wait_for_training
    pid=$(rank_pid 1)
    [ -n "$pid" ] || { echo "FAIL: no rank 1 process found"; kill -9 $launcher; exit 1; }
    fault_at=$(date +%s)
    [ "$case_name" = stall ] && kill -STOP "$pid" || kill -KILL "$pid"
    start=$fault_at
    ;;
esac
wait $launcher; code=$?
elapsed=$(( $(date +%s) - start ))
# Anything of this job still alive is a failure of the contract (and must not outlive the test).
left=$(pgrep -f -- "--run-dir $run_dir" || true)
[ -n "$left" ] && kill -9 $left 2>/dev/null
tail -20 "$work/out"
echo "case $case_name: exit status $code after ${elapsed}s (limit ${limit}s)"
[ -z "$left" ] || { echo "FAIL: processes left behind: $left"; exit 1; }
[ "$code" -ne 0 ] || { echo "FAIL: the job succeeded"; exit 1; }
[ "$code" -ne 124 ] || { echo "FAIL: the job hung (killed by timeout)"; exit 1; }
[ "$elapsed" -le "$limit" ] || { echo "FAIL: took ${elapsed}s, more than ${limit}s"; exit 1; }
[ -z "$expect_code" ] || [ "$code" -eq "$expect_code" ] || { echo "FAIL: exit status $code, expected $expect_code"; exit 1; }
grep -Eq "$regex" "$work/out" || { echo "FAIL: output does not match: $regex"; exit 1; }
echo "PASS"
