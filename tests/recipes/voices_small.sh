#!/usr/bin/env bash
# The voices recipe end to end on its small voice set (recipes/voices/run.sh --small): render with espeak-ng and
# flite plus pitch-shifted pseudo-speakers of the training espeak-ng voices, pack at 8 kHz with the flite engine
# and some espeak-ng voices held out whole, train with AAM + supcon on P x K batches and every channel
# augmentation, evaluate EER, then score the final checkpoint off its training distribution (robustness.sh:
# the engine never heard, and GSM through sox). Checks what each stage must leave behind, that no
# pseudo-speaker is held out and no held-out voice has one, and that the held-out voices are told apart
# better than chance: EER below 45% (chance 50%; measured 6%) and top-1 from ONE reference above 1.5x chance
# (measured 4x). The full recipe's figures are docs/benchmarks.md's.
#   voices_small.sh IMPRINT WORKDIR
set -euo pipefail
imprint=$1 work=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
for engine in espeak-ng flite sox; do
  command -v $engine > /dev/null || { echo "SKIPPED: $engine is not installed (launch/setup.sh installs it)"; exit 77; }
done
rm -rf "$work"
IMPRINT=$imprint bash "$here/recipes/voices/run.sh" --small --runs "$work" > "$work.log" 2>&1 || {
  tail -30 "$work.log"; echo "FAIL: recipes/voices/run.sh --small exited non-zero (log: $work.log)"; exit 1; }
fail() { tail -30 "$work.log"; echo "FAIL: $*"; exit 1; }
speech=$work/voices-small-speech
[ ! -s "$speech/problems.txt" ] || fail "voices failed to render: $(cat "$speech/problems.txt")"
held=$(grep -c . "$speech/holdout.txt") || true
[ "${held:-0}" -ge 2 ] || fail "fewer than 2 held-out voices in holdout.txt"
for v in flite_kal flite_awb flite_rms flite_slt; do
  grep -qx "$v" "$speech/holdout.txt" || fail "$v is not held out: the whole flite engine must be"
done
! grep -q -- '-p[0-9]' "$speech/holdout.txt" || fail "a pitch-shifted pseudo-speaker is held out: $(cat "$speech/holdout.txt")"
pseudo=0
for d in "$speech"/*-p[0-9]*/; do
  parent=$(basename "$d"); parent=${parent%-p*}
  ! grep -qx "$parent" "$speech/holdout.txt" || fail "held-out voice $parent has a pseudo-speaker $(basename "$d")"
  pseudo=$((pseudo + 1))
done
rendered=$(find "$speech" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$pseudo" -eq $(( 2 * (8 - (held - 4)) )) ] ||
  fail "expected 2 pitch-shifted pseudo-speakers per training espeak-ng voice, found $pseudo"
"$imprint" inspect "$work/data/voices-small" > "$work.inspect" 2>&1 || fail "the packed dataset does not validate"
grep -q "audio 8000 Hz" "$work.inspect" || fail "not packed at 8 kHz: $(cat "$work.inspect")"
grep -q "identities: $rendered ($((rendered - held)) train, $held held out)" "$work.inspect" ||
  fail "pack did not hold out the $held listed voices of $rendered: $(cat "$work.inspect")"
metrics=$work/voices-small/metrics.jsonl
records=$(grep -c '"eval_eer"' "$metrics") || true
[ "${records:-0}" -eq 2 ] || fail "expected verification EER at steps 15 and 30 in $metrics, found ${records:-0}"
grep -q "identities x 4 samples per step" "$work.log" || fail "the run did not draw P x 4 batches"
[ -s "$work/voices-small/best.ckpt" ] || fail "no best.ckpt (checkpoint.keep_best: eer)"
read -r eer top1 chance <<< "$(/usr/bin/python3 -c '
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if "\"eval_eer\"" in l][-1]
print("%.4f %.4f %.4f" % (last["eval_eer"], last["eval_top1"], last["chance"]))' "$metrics")"
/usr/bin/python3 -c "import sys; sys.exit(0 if $eer < 0.45 and $top1 > 1.5 * $chance else 1)" ||
  fail "held-out voices are not told apart better than chance: EER $eer (chance 0.5), top-1 $top1 (chance $chance)"
table=$work/voices-small-robustness/robustness.tsv
for set in seen_engines held_engine seen_engines-gsm held_engine-gsm; do
  grep -q "^$set	imprint	" "$table" 2>/dev/null || fail "robustness.sh did not score $set ($table)"
done
gsm=$(find "$work/voices-small-robustness/held_engine-gsm" -name '*.wav' | wc -l)
[ "$gsm" -eq $((4 * 8)) ] || fail "expected 32 GSM round-tripped clips of the flite voices, found $gsm"
grep -q "imprint EER ratio, GSM / clean" "$work.log" || fail "robustness.sh printed no GSM / clean ratio"
echo "PASS: voices recipe (small): $rendered voices rendered ($pseudo pseudo-speakers), $held held out (flite whole)," \
  "EER logged twice, best checkpoint kept; held-out EER $eer (chance 0.5), top-1 $top1 (chance $chance);" \
  "robustness scored on 4 sets"
