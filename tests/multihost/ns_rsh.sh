#!/bin/sh
# ns_rsh.sh HOSTS_DIR HOST COMMAND...
# OpenMPI's remote-shell agent for the multi-host tests (mpirun --mca plm_rsh_agent "ns_rsh.sh HOSTS_DIR"),
# in place of ssh: mpirun calls it as it would call `ssh HOST COMMAND...`, and it runs COMMAND (a shell
# command line, as ssh's remote shell would) on HOST — inside the network, UTS (host name) and mount
# namespaces of that emulated host, whose holder process id is in HOSTS_DIR/HOST.pid (tests/multihost/hosts.sh
# writes it) — in the current directory. What crosses the emulated network afterwards is exactly what
# crosses a real one: orted calls mpirun back over TCP (OOB) and the ranks talk over TCP (btl tcp).
dir="$1"; host="$2"; shift 2
pid=$(cat "$dir/$host.pid" 2>/dev/null) || { echo "ns_rsh.sh: no emulated host named '$host' in $dir" >&2; exit 255; }
exec nsenter -t "$pid" -n -u -m --wd="$PWD" -- /bin/sh -c "$*"
