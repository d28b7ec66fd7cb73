#!/usr/bin/env bash
# The voices recipe end to end on its small voice set (recipes/voices/run.sh --small): render with espeak-ng and
# flite, pack at 8 kHz with whole voices held out, train with AAM + supcon on P x K batches, evaluate EER. Checks
# what each stage must leave behind, and that the held-out voices are told apart better than chance: EER below
# 45% (chance 50%; measured 33%) and top-1 from ONE reference above 1.5x chance (measured 3x). The full
# recipe's figures are docs/benchmarks.md's.
#   voices_small.sh IMPRINT WORKDIR
set -euo pipefail
imprint=$1 work=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
for engine in espeak-ng flite; do
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
"$imprint" inspect "$work/data/voices-small" > "$work.inspect" 2>&1 || fail "the packed dataset does not validate"
grep -q "audio 8000 Hz" "$work.inspect" || fail "not packed at 8 kHz: $(cat "$work.inspect")"
grep -q "identities: 12 ($((12 - held)) train, $held held out)" "$work.inspect" ||
  fail "pack did not hold out the $held listed voices: $(cat "$work.inspect")"
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
echo "PASS: voices recipe (small): 12 voices rendered, $held held out, EER logged twice, best checkpoint kept;" \
  "held-out EER $eer (chance 0.5), top-1 $top1 (chance $chance)"
