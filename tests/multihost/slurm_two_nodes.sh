#!/usr/bin/env bash
# slurm_two_nodes.sh SOURCE_DIR IMPRINT WORKDIR
# Slurm with two nodes: a throwaway cluster on two emulated hosts (tests/multihost/hosts.sh) — slurmctld and
# slurmd on node1, slurmd on node2, one munged; Debian's packages, every file under WORKDIR — runs
# `sbatch --nodes=2 --ntasks-per-node=1 launch/slurm/train.sbatch`: mpirun in the batch script starts the
# rank of node2 through Slurm (srun starts orted there), the ranks talk over TCP between the hosts. The job is
# preempted mid-run as `--signal=B:USR1@N` does (scancel --batch --signal=USR1): the ranks checkpoint at an
# agreed step, the script requeues the job, the requeued job resumes on both nodes and finishes with the
# same state digest as an uninterrupted run. Exit 77 (skipped) where Slurm or namespaces are missing.
set -uo pipefail
src="$(realpath "$1")"; imprint="$(realpath "$2")"; work="$(realpath -m "$3")"
steps=${MH_SLURM_STEPS:-300}
source "$src/tests/multihost/hosts.sh"
for tool in munged slurmctld slurmd sbatch scontrol sinfo srun; do
  command -v "$tool" >/dev/null || mh_skip "$tool is not installed (apt-get install slurmctld slurmd slurm-client munge)"
done
rm -rf "$work"; mkdir -p "$work"
mh_up 2 "$work" --slots 1
d="$work/slurm"
mkdir -p "$d"/{munge,state,spool,log}
chmod 700 "$d/munge"
fail() { echo "FAIL: $*"; echo "--- job output"; tail -40 "$work/job.out" 2>/dev/null; echo "--- slurmctld";
         tail -15 "$d/log/slurmctld.log"; for n in node1 node2; do echo "--- slurmd $n"; tail -8 "$d/log/slurmd-$n.log"; done
         exit 1; }

# munged on node1 (a key of our own; the socket is a file every host sees), slurmctld and slurmd on node1,
# slurmd on node2. Every daemon lives in a host's namespaces, so the teardown ends it.
dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$d/munge/munge.key"
mh_exec node1 munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
  --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed" ||
  mh_skip "munged would not start"
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 - 512 ))
cat >"$d/slurm.conf" <<CONF
ClusterName=imprintmh
SlurmctldHost=node1($MH_SUBNET.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
SlurmdTimeout=60
NodeName=node1 NodeAddr=$MH_SUBNET.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
NodeName=node2 NodeAddr=$MH_SUBNET.2 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$d/slurm.conf"
mh_exec node1 slurmctld -f "$SLURM_CONF" || mh_skip "slurmctld would not start (log: $d/log/slurmctld.log)"
for n in node1 node2; do
  mh_exec "$n" slurmd -f "$SLURM_CONF" -N "$n" || mh_skip "slurmd would not start on $n (log: $d/log/slurmd-$n.log)"
done
slurm() { mh_exec node1 "$@"; }  # the client commands, from node1 (slurmctld is reachable on the emulated network)
for _ in $(seq 1 100); do
  idle=$(slurm sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle' || true)
  [ "$idle" = 2 ] && break
  sleep 0.3
done
[ "$idle" = 2 ] || { slurm sinfo -N >&2; mh_skip "the two Slurm nodes never became idle (logs in $d/log)"; }
echo "slurm: nodes node1 node2 idle"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include="$MH_SUBNET.0/24" OMPI_MCA_oob_tcp_if_include="$MH_SUBNET.0/24"
export IMPRINT_BIN="$imprint"
cat >"$work/tiny.yaml" <<YAML
data: {train_identities: 48, eval_identities: 8, samples_per_identity: 6, image_size: 16, workers: 1}
model: {embed_dim: 32, tokens: 2, width: 8}
train: {steps: $steps, batch_size: 16, log_every: 10, eval_every: 0, threads: 1}
eval: {gallery_per_identity: 3}
checkpoint: {every: 100, keep: 2}
distributed: {timeout_s: 30}
YAML

# The uninterrupted reference: 2 ranks on one machine (the parity test shows hosts do not change the state).
start=$(date +%s)
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$imprint" train --config "$work/tiny.yaml" \
  --run-dir "$work/reference" >"$work/reference.out" 2>&1 || fail "the reference run failed: $(tail -5 "$work/reference.out")"
echo "reference (2 ranks, one host, uninterrupted): $(( $(date +%s) - start )) s"
last=$(printf %08d "$steps")
reference=$("$imprint" inspect "$work/reference/checkpoints/step-$last.ckpt" | grep -o 'state digest: [0-9a-f]*')

job_field() { slurm scontrol show job "$jid" 2>/dev/null | grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }
wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 $((limit * 5))); do "$@" && return 0; sleep 0.2; done
  fail "timed out after ${limit}s waiting for: $what"
}
training_in_restart() { grep -q "\"loss\".*\"restart\":$1" "$work/run/metrics.jsonl" 2>/dev/null; }
requeued() { [ "$(job_field Restarts)" = "$1" ] && [ "$(job_field JobState)" = PENDING ]; }
release() { sleep 3; slurm scontrol update jobid="$jid" StartTime=now; }

start=$(date +%s)
jid=$(cd "$src" && slurm sbatch --parsable --nodes=2 --ntasks-per-node=1 -c 1 -o "$work/job.out" \
  launch/slurm/train.sbatch "$work/tiny.yaml" "$work/run") || fail "sbatch refused the job"
echo "submitted job $jid"
wait_until 120 "training to start" training_in_restart 0
echo "job $jid runs on $(job_field NodeList) ($(job_field NumNodes) nodes)"
scancel_at=$(date +%s)
slurm scancel --batch --signal=USR1 "$jid"
wait_until 120 "the job to requeue itself after SIGUSR1" requeued 1
echo "preempted (SIGUSR1) and requeued in $(( $(date +%s) - scancel_at )) s"
release
wait_until 120 "training to resume (restart 1)" training_in_restart 1
wait_until 300 "the job to finish" bash -c "[ \"\$(SLURM_CONF=$SLURM_CONF nsenter -t $(mh_holder node1) -n -u -m scontrol show job $jid | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]"
echo "job $jid: $(( $(date +%s) - start )) s from submission to completion, with one preemption"

grep -E '^imprint:|ranks by host|resumed from|stopped after|done:' "$work/job.out" | cut -c1-200
grep -q "requeueing job $jid" "$work/job.out" || fail "the script did not requeue itself after SIGUSR1"
[ "$(grep -c 'resumed from' "$work/job.out")" -ge 1 ] || fail "the job did not resume"
n=$(grep -c 'ranks by host: node1: rank(s) 0 (local 0); node2: rank(s) 1 (local 0)' "$work/job.out")
[ "$n" -ge 2 ] || fail "the ranks did not run on both nodes in both attempts (rank 0 on node1, rank 1 on node2)"
final="$work/run/checkpoints/step-$last.ckpt"
[ -f "$final" ] || fail "no final checkpoint $final"
got=$("$imprint" inspect "$final" | grep -o 'state digest: [0-9a-f]*')
echo "uninterrupted: $reference; on two nodes, preempted and requeued: $got"
[ -n "$reference" ] && [ "$got" = "$reference" ] || fail "the preempted two-node run's final state differs from the uninterrupted run's"
echo "PASS"
