#!/usr/bin/env bash
# quickstart_refuses_existing_runs.sh WORKDIR — launch/generative-quickstart.sh removes no earlier results
# unasked: with runs/generative-judge, -pretrain or -adapter present it exits 2 with one line naming
# them and --fresh, before building or training anything, and leaves them as they were; with --fresh it says
# it removes them, removes them, and runs. Nothing is trained: the script runs from a copy in a scratch tree
# whose launch/build.sh and build/imprint are stand-ins that record being run.
set -euo pipefail
work=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work/launch" "$work/build"
cp "$here/launch/generative-quickstart.sh" "$work/launch/"
printf '#!/bin/sh\necho "build $*" >> "%s/ran"\n' "$work" > "$work/launch/build.sh"
printf '#!/bin/sh\necho "imprint $*" >> "%s/ran"\n' "$work" > "$work/build/imprint"
chmod +x "$work/build/imprint"
fail() { echo "FAIL: $*"; exit 1; }
quickstart() {  # OPTIONS...: runs the copy; sets rc and out (stdout and stderr)
  rm -f "$work/ran"
  rc=0
  out=$(bash "$work/launch/generative-quickstart.sh" "$@" 2>&1) || rc=$?
}

for present in "generative-pretrain" "generative-adapter" "generative-judge" \
  "generative-judge generative-pretrain generative-adapter"; do
  rm -rf "$work/runs"
  for run in $present; do
    mkdir -p "$work/runs/$run/checkpoints"
    echo "earlier results" > "$work/runs/$run/checkpoints/keep.txt"
  done
  quickstart
  [ "$rc" = 2 ] || fail "with runs/{$present} present: exit $rc, expected 2: $out"
  [ "$(wc -l <<< "$out")" = 1 ] || fail "with runs/{$present} present: expected one line, got: $out"
  for run in $present; do
    [[ "$out" == *"runs/$run"* ]] || fail "the refusal does not name runs/$run: $out"
    [ -s "$work/runs/$run/checkpoints/keep.txt" ] || fail "the refusal removed runs/$run"
  done
  [[ "$out" == *"--fresh"* ]] || fail "the refusal does not say how to proceed (--fresh): $out"
  [ ! -e "$work/ran" ] || fail "the refusal came after building or training: $(cat "$work/ran")"
done
echo "ok: refused (exit 2, one line naming them and --fresh) with earlier results present, nothing run"

quickstart --fresh
[ "$rc" = 0 ] || fail "--fresh: exit $rc: $out"
for run in generative-judge generative-pretrain generative-adapter; do
  [ ! -e "$work/runs/$run" ] || fail "--fresh did not remove runs/$run"
  grep -q "removing .*runs/$run" <<< "$out" || fail "--fresh does not say it removes runs/$run: $out"
done
grep -q "^imprint train --config configs/generative-adapter.yaml" "$work/ran" ||
  fail "--fresh did not go on to train: $(cat "$work/ran" 2>/dev/null)"
echo "ok: --fresh says what it removes, removes it, and trains"

quickstart
[ "$rc" = 0 ] || fail "without earlier results: exit $rc: $out"
grep -q "^imprint generate" "$work/ran" || fail "without earlier results it did not run: $out"
quickstart --bogus
[ "$rc" = 2 ] && [[ "$out" == usage:* ]] || fail "an unknown option: exit $rc, expected 2 and the usage: $out"
echo "PASS: the generative quickstart refuses to remove earlier results unless --fresh"
