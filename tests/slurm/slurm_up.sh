#!/usr/bin/env bash
# slurm_up.sh DIR — starts a throwaway single-host Slurm (munged, slurmctld, slurmd) whose every file lives
# under DIR, as root, without systemd. Prints `export SLURM_CONF=...` for the caller to eval. Stop it with
# slurm_down.sh DIR. Exit 77 (skip) when Slurm or munge are not installed or a daemon will not start.
set -euo pipefail
d="$(realpath -m "$1")"
for tool in munged slurmctld slurmd sbatch scontrol squeue; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: the throwaway Slurm needs root" >&2; exit 77; }
rm -rf "$d"; mkdir -p "$d"/{munge,state,spool,log}
chmod 700 "$d/munge"
# A key of our own, so nothing under /etc is needed or touched.
dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$d/munge/munge.key"
munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" --pid-file="$d/munge/munged.pid" \
  --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed" || { echo "SKIPPED: munged would not start" >&2; exit 77; }

port=$((20000 + RANDOM % 20000))
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
cat >"$d/slurm.conf" <<CONF
ClusterName=imprintci
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
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
NodeName=ci1 NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=ci1 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$d/slurm.conf"
slurmctld -f "$SLURM_CONF" || { echo "SKIPPED: slurmctld would not start (log: $d/log/slurmctld.log)" >&2; exit 77; }
slurmd -f "$SLURM_CONF" -N ci1 || { echo "SKIPPED: slurmd would not start (log: $d/log/slurmd-ci1.log)" >&2; exit 77; }
for _ in $(seq 1 60); do
  state=$(sinfo -h -n ci1 -o %T 2>/dev/null || true)
  case "$state" in idle*|mixed*|alloc*) echo "export SLURM_CONF=$SLURM_CONF"; exit 0;; esac
  sleep 0.5
done
echo "SKIPPED: the Slurm node never became idle (state '$state'; logs in $d/log)" >&2
tail -5 "$d"/log/*.log >&2 || true
exit 77
