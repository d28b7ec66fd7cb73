# hosts.sh — emulated hosts for the multi-host tests; sourced, not run.
#
#   source tests/multihost/hosts.sh
#   mh_up 2 "$work" [--slots 2] [--local-dir PATH]   # node1, node2: 10.231.0.1, 10.231.0.2
#   mh_exec node1 CMD...       # CMD on node1 (its network, host name, /etc/hosts, /tmp, /dev/shm)
#   mh_mpirun -np 4 CMD...     # mpirun on node1, ranks spread over the hosts by the hostfile, TCP between them
#   mh_link_down node2         # unplug node2's cable (its switch port goes down; nothing tells its sockets)
#   mh_signal node2 STOP|CONT|KILL, mh_pids node2, mh_alive_on node2 PATTERN
#   (teardown is a trap on EXIT: every process on every host is killed and every namespace deleted)
#
# A host is a network namespace (veth `eth0` into a bridge in a switch namespace of its own, address
# 10.231.0.N/24), with its own UTS namespace (host name nodeN) and mount namespace (private /tmp and /dev/shm
# as on separate machines, and an /etc/hosts that names every host). One holder process (`sleep`) keeps the
# namespaces; everything is entered with nsenter. Nothing is created in the machine's own network
# namespace: its interfaces, routes and firewall are never touched, and no packet of the tests leaves the
# namespaces the test made. The processes share the machine's filesystem, which plays the cluster's shared
# filesystem; `--local-dir PATH` instead gives each host its own PATH (a per-host folder bind-mounted over
# it), as a node-local disk.
#
# Where namespaces cannot be made (not root, no `ip netns`, a kernel or container without them), mh_up
# exits 77 with the reason: ctest reports the test as skipped. Hosts that are made but cannot reach each
# other fail the test.

MH_SUBNET=10.231.0
MH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MH_HOSTS=()

mh_skip() { echo "SKIPPED: $*"; exit 77; }

# The distinct first folders under /tmp of the paths given (/tmp/a for /tmp/a/b/c); nothing for other paths.
mh_tmp_tops() {
  local p
  for p in "$@"; do
    case "$p/" in /tmp/?*/*) p=${p#/tmp/}; echo "/tmp/${p%%/*}" ;; esac
  done | sort -u
}

# The network namespaces of this test: imprint-mh<PID of the test>-<name>. Names left by a test that
# was killed before its trap ran (its PID gone) are removed first.
mh_sweep_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^imprint-mh[0-9]*-' || true); do
    pid=${ns#imprint-mh}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    mh_kill_netns "$ns"
    ip netns del "$ns" 2>/dev/null
  done
}

# Every process whose network namespace is the named one's.
mh_netns_pids() { ip netns pids "$1" 2>/dev/null || true; }
mh_kill_netns() {
  local pids
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(mh_netns_pids "$1")
    [ -z "$pids" ] && return 0
    kill -KILL $pids 2>/dev/null
    sleep 0.2
  done
}

mh_teardown() {
  local h
  [ -n "${MH_NAME:-}" ] || return 0
  for h in ${MH_HOSTS[@]+"${MH_HOSTS[@]}"}; do mh_kill_netns "$MH_NAME-$h"; done
  for h in ${MH_HOSTS[@]+"${MH_HOSTS[@]}"} sw; do ip netns del "$MH_NAME-$h" 2>/dev/null; done
  for h in ${MH_HOSTS[@]+"${MH_HOSTS[@]}"}; do rmdir "/run/$MH_NAME-$h"-[0-9]* 2>/dev/null; done
  MH_HOSTS=()
}

# mh_up N WORKDIR [--slots S] [--local-dir PATH]
mh_up() {
  local n="$1" i slots=2 local_dir=""
  MH_WORK="$(realpath -m "$2")"; shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --slots) slots="$2"; shift 2 ;;
      --local-dir) local_dir="$(realpath -m "$2")"; shift 2 ;;
      *) echo "mh_up: unknown option $1"; exit 2 ;;
    esac
  done
  [ "$(id -u)" -eq 0 ] || mh_skip "network namespaces need root"
  for tool in ip nsenter unshare mount mpirun; do
    command -v "$tool" >/dev/null || mh_skip "$tool is not installed (launch/setup.sh --tests)"
  done
  MH_NAME="imprint-mh$$"
  MH_DIR="$MH_WORK/hosts"
  rm -rf "$MH_DIR"; mkdir -p "$MH_DIR"
  mh_sweep_stale
  trap 'mh_teardown' EXIT
  trap 'exit 130' INT TERM
  ip netns add "$MH_NAME-sw" 2>"$MH_DIR/err" || mh_skip "cannot make a network namespace: $(cat "$MH_DIR/err")"
  MH_HOSTS=(sw)  # torn down from here on
  ip -n "$MH_NAME-sw" link add br0 type bridge 2>"$MH_DIR/err" || mh_skip "cannot make a bridge: $(cat "$MH_DIR/err")"
  ip -n "$MH_NAME-sw" link set br0 up
  : >"$MH_DIR/hostfile"
  { echo "127.0.0.1 localhost"; for i in $(seq 1 "$n"); do echo "$MH_SUBNET.$i node$i"; done; } >"$MH_DIR/etc-hosts"
  MH_HOSTS=()
  for i in $(seq 1 "$n"); do
    local h="node$i" ns="$MH_NAME-node$i"
    ip netns add "$ns" || mh_skip "cannot make network namespace $ns"
    MH_HOSTS+=("$h")
    ip -n "$MH_NAME-sw" link add "p$i" type veth peer name eth0 netns "$ns" 2>"$MH_DIR/err" ||
      mh_skip "cannot make a veth pair: $(cat "$MH_DIR/err")"
    ip -n "$MH_NAME-sw" link set "p$i" master br0 up
    ip -n "$ns" addr add "$MH_SUBNET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    # A /tmp of the host's own hides the machine's: the folders under /tmp that hold the work directory and the
    # checkout (a CI clone in /tmp: the binary, the configs, the shared run directory) are bound aside first
    # and back at their own paths on the host's /tmp, so they stay shared.
    local mounts="mount --bind '$MH_DIR/etc-hosts' /etc/hosts" keep="" top k=0
    for top in $(mh_tmp_tops "$MH_WORK" "$MH_SRC"); do
      mkdir -p "/run/$ns-$k"
      mounts="$mounts && mount --bind '$top' '/run/$ns-$k'"
      keep="$keep && mkdir -p '$top' && mount --bind '/run/$ns-$k' '$top'"
      k=$((k + 1))
    done
    mounts="$mounts && mount -t tmpfs tmpfs /tmp$keep"
    mounts="$mounts && mount -t tmpfs tmpfs /dev/shm"
    if [ -n "$local_dir" ]; then
      mkdir -p "$local_dir" "$MH_WORK/local/$h"
      mounts="$mounts && mount --bind '$MH_WORK/local/$h' '$local_dir'"
    fi
    # The holder: its namespaces are the host's. --propagation private: no mount made here reaches the machine.
    # (nsenter, not `ip netns exec`, which mounts a sysfs of its own over /sys and so hides /sys/fs/cgroup,
    # which slurmd needs.)
    nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation private \
      sh -c "hostname $h && $mounts && echo ready >'$MH_DIR/$h.ready' && exec sleep 2147483647" \
      >"$MH_DIR/$h.holder.log" 2>&1 &
    echo $! >"$MH_DIR/$h.pid"
    disown $!
    echo "$h slots=$slots" >>"$MH_DIR/hostfile"
  done
  for h in "${MH_HOSTS[@]}"; do
    for _ in $(seq 1 50); do [ -f "$MH_DIR/$h.ready" ] && break; sleep 0.1; done
    [ -f "$MH_DIR/$h.ready" ] || mh_skip "cannot make host $h's namespaces: $(cat "$MH_DIR/$h.holder.log")"
  done
  # Every host reaches every other over the emulated network (and only over it).
  # (a connection to a closed port is refused at once when the host answers; silence means unreachable)
  for h in "${MH_HOSTS[@]}"; do
    for i in $(seq 1 "$n"); do
      case "$(mh_exec "$h" timeout 5 bash -c "exec 3<>/dev/tcp/$MH_SUBNET.$i/9" 2>&1)" in
        *refused*) ;;
        *) echo "FAIL: $h cannot reach $MH_SUBNET.$i over the emulated network"; exit 1 ;;
      esac
    done
  done
  echo "hosts: ${MH_HOSTS[*]} ($MH_SUBNET.1-$n/24, namespaces $MH_NAME-*)${local_dir:+, $local_dir local to each host}"
}

mh_holder() { cat "$MH_DIR/$1.pid"; }
# mh_exec HOST CMD... — CMD on HOST, in the current directory.
mh_exec() {
  local h="$1"; shift
  nsenter -t "$(mh_holder "$h")" -n -u -m --wd="$PWD" -- "$@"
}
# The processes on HOST (its network namespace), the holder excepted.
mh_pids() {
  local holder; holder=$(mh_holder "$1")
  mh_netns_pids "$MH_NAME-$1" | grep -vx "$holder" || true
}
# The processes on HOST that have not ended (zombies, which wait only for their parent to collect them, left out).
mh_running() {
  local p
  for p in $(mh_pids "$1"); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$p" ] || echo "$p"
  done
  return 0
}
# mh_alive_on HOST REGEX: the processes on HOST whose command line matches.
mh_alive_on() {
  local p
  for p in $(mh_pids "$1"); do
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -Eq -- "$2" && echo "$p"
  done
  return 0
}
mh_signal() {
  local pids; pids=$(mh_pids "$1")
  [ -z "$pids" ] || kill -"$2" $pids 2>/dev/null
  return 0
}
mh_link_down() { ip -n "$MH_NAME-sw" link set "p${1#node}" down; }
mh_link_up() { ip -n "$MH_NAME-sw" link set "p${1#node}" up; }

# mh_mpirun ARGS... — mpirun started on node1 with the hostfile of mh_up (node1 first), remote daemons started
# through ns_rsh.sh (no sshd: see that file), OOB and BTL over TCP on the emulated network only. Shared
# memory is used between the ranks of one host, as on a cluster.
mh_mpirun() {
  mh_exec node1 mpirun --allow-run-as-root --bind-to none --hostfile "$MH_DIR/hostfile" \
    --mca plm_rsh_agent "$MH_SRC/tests/multihost/ns_rsh.sh $MH_DIR" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include "$MH_SUBNET.0/24" --mca btl_tcp_if_include "$MH_SUBNET.0/24" \
    ${MH_MPIRUN_FLAGS:-} "$@"
}

# mh_run_for SECONDS OUT CMD... — CMD (a shell function too) with stdout and stderr to OUT; its exit status,
# or 124 after killing it when it runs longer than SECONDS (a hung launcher fails a test, it never holds it).
mh_run_for() {
  local limit="$1" out="$2" pid; shift 2
  "$@" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 $((limit * 10))); do
    kill -0 $pid 2>/dev/null || { wait $pid; return; }
    sleep 0.1
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  echo "mh_run_for: killed after ${limit}s: $*" >>"$out"
  return 124
}
