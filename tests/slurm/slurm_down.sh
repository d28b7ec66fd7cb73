#!/usr/bin/env bash
# slurm_down.sh DIR — stops what slurm_up.sh DIR started.
d="$(realpath -m "$1")"
for pidfile in "$d"/slurmd-*.pid "$d"/slurmctld.pid "$d"/munge/munged.pid; do
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
done
sleep 1
for pidfile in "$d"/slurmd-*.pid "$d"/slurmctld.pid "$d"/munge/munged.pid; do
  [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
done
exit 0
