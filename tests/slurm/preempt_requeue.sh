#!/usr/bin/env bash
# preempt_requeue.sh SOURCE_DIR IMPRINT WORKDIR
# On a throwaway single-host Slurm (slurm_up.sh): submits launch/slurm/train.sbatch with 2 ranks, preempts
# it twice — first as `--signal=B:USR1@N` would (scancel --batch --signal=USR1), then by Slurm's own
# `scontrol requeue` (SIGTERM to the whole job) — lets it finish, and checks that its final checkpoint holds
# the same training state, bit for bit, as an uninterrupted mpirun run of the same config. Exit 77 (ctest:
# skipped) when Slurm cannot be brought up here.
set -uo pipefail
src="$(realpath "$1")"; imprint="$(realpath "$2")"; work="$(realpath -m "$3")"
rm -rf "$work"; mkdir -p "$work"
up=$(bash "$src/tests/slurm/slurm_up.sh" "$work/slurm"); rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: slurm_up.sh exited $rc"; exit 1; }
eval "$up"
trap 'bash "$src/tests/slurm/slurm_down.sh" "$work/slurm"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export IMPRINT_BIN="$imprint"
fail() { echo "FAIL: $*"; echo "--- job output"; tail -40 "$work/job.out" 2>/dev/null; echo "--- slurmctld";
         tail -15 "$work/slurm/log/slurmctld.log"; exit 1; }
cat >"$work/tiny.yaml" <<'YAML'
data: {train_identities: 48, eval_identities: 8, samples_per_identity: 6, image_size: 16, workers: 1}
model: {embed_dim: 32, tokens: 2, width: 8}
train: {steps: 1500, batch_size: 16, log_every: 10, eval_every: 0, threads: 1}
eval: {gallery_per_identity: 3}
checkpoint: {every: 250, keep: 2}
distributed: {timeout_s: 30}
YAML

# The uninterrupted reference.
mpirun -np 2 "$imprint" train --config "$work/tiny.yaml" --run-dir "$work/reference" --set train.threads=1 \
  >"$work/reference.out" 2>&1 || fail "the reference run failed: $(tail -5 "$work/reference.out")"
reference=$("$imprint" inspect "$work/reference/checkpoints/step-00001500.ckpt" | grep -o 'state digest: [0-9a-f]*')

job_field() { scontrol show job "$jid" 2>/dev/null | grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }
wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 $((limit * 5))); do "$@" && return 0; sleep 0.2; done
  fail "timed out after ${limit}s waiting for: $what"
}
training_in_restart() { grep -q "\"loss\".*\"restart\":$1" "$work/run/metrics.jsonl" 2>/dev/null; }
requeued() { [ "$(job_field Restarts)" = "$1" ] && [ "$(job_field JobState)" = PENDING ]; }
# Slurm holds a requeued job back for a while; release it, but not within the second of the requeue: slurmd
# refuses a launch whose credential is as old as the revocation of the last one ("Job credential revoked").
release() { sleep 3; scontrol update jobid="$jid" StartTime=now; }

jid=$(cd "$src" && sbatch --parsable -n 2 -c 1 -o "$work/job.out" launch/slurm/train.sbatch "$work/tiny.yaml" "$work/run") \
  || fail "sbatch refused the job"
echo "submitted job $jid"
wait_until 120 "training to start" training_in_restart 0
scancel --batch --signal=USR1 "$jid"
wait_until 120 "the job to requeue itself after SIGUSR1" requeued 1
release
wait_until 120 "training to resume (restart 1)" training_in_restart 1
scontrol requeue "$jid"
wait_until 120 "Slurm's requeue" requeued 2
release
wait_until 300 "the job to finish" bash -c "[ \"\$(scontrol show job $jid | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]"

cat "$work/job.out" | grep -E '^imprint:|resumed from|stopped after|done:' || true
grep -q "requeueing job $jid" "$work/job.out" || fail "the script did not requeue itself after SIGUSR1"
[ "$(grep -c 'resumed from' "$work/job.out")" -ge 2 ] || fail "the job did not resume twice (--open-mode=append keeps every attempt's output)"
final="$work/run/checkpoints/step-00001500.ckpt"
[ -f "$final" ] || fail "no final checkpoint $final"
got=$("$imprint" inspect "$final" | grep -o 'state digest: [0-9a-f]*')
echo "uninterrupted: $reference; preempted twice and requeued: $got"
[ "$got" = "$reference" ] || fail "the preempted run's final state differs from the uninterrupted run's"
steps=$(grep -o '"loss"[^}]*' "$work/run/metrics.jsonl" | wc -l)
[ "$steps" -eq 150 ] || fail "metrics.jsonl holds $steps loss records, expected one per logged step (150)"
echo "PASS"
