#!/usr/bin/env bash
# no_shared_run_dir.sh IMPRINT CONFIG WORKDIR
# A run directory on node-local disks (each of 2 emulated hosts has its own folder at the same path, a per-host
# bind mount: tests/multihost/hosts.sh --local-dir) is refused at start, with one message naming the ranks
# and hosts that do not see it and saying a shared run directory is required (exit 3) — never trained on,
# never a hang, never a half-resume:
#   1. a fresh run across the hosts (it would train: the other node never looks at the folder — until a resume);
#   2. a resume across the hosts of a run whose checkpoint only node1's disk holds (node1's ranks would resume
#      from it, node2's from nothing);
#   3. the same resume without --config: node2's rank cannot read the saved config and says the run directory
#      must be shared (exit 2, before MPI starts).
# Nothing is left on either disk by the refused runs but what was there. Exit 77 (skipped) where namespaces
# cannot be made.
set -u
imprint="$(realpath "$1")"; config="$(realpath "$2")"; work="$(realpath -m "$3")"
source "$(dirname "$0")/hosts.sh"
rm -rf "$work"; mkdir -p "$work"
run="$work/run"
mh_up 2 "$work" --slots 1 --local-dir "$run"
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
args=(--config "$config" --run-dir "$run/exp" --set train.steps=20 --set checkpoint.every=10 --set train.log_every=5
      --set distributed.timeout_s=30)
shared_regex="$run/exp: not on a filesystem every rank sees: rank\(s\) 1 on host node2 do not see the lock file $run/exp/imprint.lock that rank 0 holds on host node1; the run directory must be on a filesystem shared by every node"
expect_refused() {  # [code=N regex=RE] expect_refused NAME CMD...
  local name="$1" start code elapsed want="${want:-3}" regex="${regex:-$shared_regex}"; shift
  start=$(date +%s)
  mh_run_for 120 "$work/$name.out" "$@"; code=$?
  elapsed=$(( $(date +%s) - start ))
  grep -E 'error|ranks by host' "$work/$name.out" | cut -c1-400
  echo "$name: exit status $code after ${elapsed}s"
  [ "$code" -ne 124 ] || fail "$name: hung"
  [ "$code" -eq "$want" ] || fail "$name: exit status $code, expected $want"
  grep -Eq -- "$regex" "$work/$name.out" || fail "$name: output does not match: $regex"
  [ "$(grep -Ec -- "$regex" "$work/$name.out")" -eq 1 ] || fail "$name: not one message"
  ! grep -q '"loss"\|step  *[0-9]*/' "$work/$name.out" || fail "$name: trained before refusing"
}

# 1. A fresh run: refused, and no run directory left on either disk.
expect_refused fresh mh_mpirun -np 2 "$imprint" train "${args[@]}"
for h in node1 node2; do
  [ -z "$(ls -A "$work/local/$h")" ] || fail "the refused run left $(ls -A "$work/local/$h") on $h's disk"
done

# 2. A run that node1 alone trained to step 10 (its checkpoint on node1's disk only), resumed across the hosts.
mh_exec node1 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$imprint" train "${args[@]}" \
  --set train.stop_at=10 >"$work/node1-only.out" 2>&1 || { tail -20 "$work/node1-only.out"; fail "the node1-only run failed"; }
[ -f "$work/local/node1/exp/checkpoints/step-00000010.ckpt" ] || fail "no checkpoint on node1's disk"
before=$(cd "$work/local" && find . -type f | sort | xargs md5sum)
expect_refused resume mh_mpirun -np 2 "$imprint" train "${args[@]}" --resume
after=$(cd "$work/local" && find . -type f | sort | xargs md5sum)
[ "$before" = "$after" ] || fail "the refused resume changed the disks: $(diff <(echo "$before") <(echo "$after"))"

# 3. The same resume without --config (the saved config.yaml is read before MPI starts): node2's rank does not
#    find it and says why that may be (exit 2).
want=2 regex="--resume without --config: $run/exp/config.yaml does not exist \(seen from rank 1 on host node2: every rank reads the run directory, which must be on a filesystem every node sees\)" \
  expect_refused resume-saved-config mh_mpirun -np 2 "$imprint" train --run-dir "$run/exp" --resume
after=$(cd "$work/local" && find . -type f | sort | xargs md5sum)
[ "$before" = "$after" ] || fail "the refused resume changed the disks: $(diff <(echo "$before") <(echo "$after"))"
echo "PASS"
