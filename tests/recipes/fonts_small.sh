#!/usr/bin/env bash
# The font recipe end to end on the small font set, both paths: recipes/fonts/run.sh --small (render, pack
# with whole families held out, judge, generator + encoder trained together scored by the judge, the grid)
# and --small --frozen (the same with generator pretraining, then adapter training against it frozen). Checks
# what each stage must leave behind, not how good it is (that is docs/benchmarks.md's).
#   fonts_small.sh IMPRINT WORKDIR
set -euo pipefail
imprint=$1 work=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
fail() { tail -30 "$work.log"; echo "FAIL: $*"; exit 1; }
check_run() {  # the folder of the stage scored by the judge
  local metrics=$1/metrics.jsonl records
  records=$(grep -c '"fidelity_top1_real"' "$metrics") || true
  [ "${records:-0}" -eq 2 ] || fail "expected identity fidelity at steps 15 and 30 in $metrics, found ${records:-0}"
  grep -q "identity fidelity from ONE reference" "$work.log" || fail "the fidelity line was not logged"
  [ -s "$1/grid.png" ] || fail "no $1/grid.png"
}
for path in joint frozen; do
  flags=(--small)
  [ $path = frozen ] && flags+=(--frozen)
  IMPRINT=$imprint bash "$here/recipes/fonts/run.sh" "${flags[@]}" --runs "$work" > "$work.log" 2>&1 || {
    tail -30 "$work.log"; echo "FAIL: recipes/fonts/run.sh ${flags[*]} exited non-zero (log: $work.log)"; exit 1; }
  if [ $path = joint ]; then
    held=$(grep -c . "$work/fonts-small-glyphs/holdout.txt") || true
    [ "${held:-0}" -ge 2 ] || fail "fewer than 2 held-out faces in holdout.txt"
    "$imprint" inspect "$work/data/fonts-small" > "$work.inspect" 2>&1 || fail "the packed dataset does not validate"
    grep -q "content:    26 labels (A, B, C" "$work.inspect" ||
      fail "the dataset lacks the A-Z content labels: $(cat "$work.inspect")"
    grep -q " $held held out)" "$work.inspect" || fail "pack did not hold out the $held listed faces: $(cat "$work.inspect")"
    check_run "$work/fonts-small-joint"
  else
    check_run "$work/fonts-small-adapter"
    [ -d "$work/fonts-small-joint" ] || fail "the --frozen run removed the joint path's results"
  fi
done
echo "PASS: font recipe (small), joint and frozen paths: $held held-out faces, fidelity logged twice, grids written"
