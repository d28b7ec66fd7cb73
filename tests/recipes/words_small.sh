#!/usr/bin/env bash
# The spoken-words recipe end to end on its small voice set (recipes/words/run.sh --small): render 20 words in
# 24 espeak-ng and 4 flite voices, pack with whole voices and the whole flite engine held out (and the
# training voices' clips by word), train the speaker judge, the word reader, then the audio generator and
# speaker encoder together, scored in the loop from ONE reference clip of each held-out voice; then the mel
# grid and the WAVs. Checks what each stage must leave behind and a figure: the words generated from ONE
# reference sound more like that voice to the judge than the same words without the identity tokens (judge
# cosine above the identity-dropped floor by 0.04, top-1 not below it; measured at 600 steps 0.717 vs 0.635 and
# 29.2% vs 8.3%; at 300 steps only 0.644 vs 0.617, so the small run trains 600). The full recipe's figures
# are docs/benchmarks.md's.
# The run's TensorBoard holds the fidelity grid and the clips (read back with TensorBoard's own reader).
#   words_small.sh IMPRINT WORKDIR PYTHON
set -euo pipefail
imprint=$1 work=$2 python=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
for engine in espeak-ng flite; do
  command -v $engine > /dev/null || { echo "SKIPPED: $engine is not installed (launch/setup.sh installs it)"; exit 77; }
done
rm -rf "$work"
IMPRINT=$imprint bash "$here/recipes/words/run.sh" --small --runs "$work" > "$work.log" 2>&1 || {
  tail -30 "$work.log"; echo "FAIL: recipes/words/run.sh --small exited non-zero (log: $work.log)"; exit 1; }
fail() { tail -30 "$work.log"; echo "FAIL: $*"; exit 1; }
speech=$work/words-small-speech
[ ! -s "$speech/problems.txt" ] || fail "voices failed to render: $(cat "$speech/problems.txt")"
held=$(grep -c . "$speech/holdout.txt") || true
flite_held=$(grep -c '^flite_' "$speech/holdout.txt") || true
[ "${flite_held:-0}" -eq 4 ] || fail "the flite engine is not held out whole: $(cat "$speech/holdout.txt")"
"$imprint" inspect "$work/data/words-small" > "$work.inspect" 2>&1 || fail "the packed dataset does not validate"
grep -q "audio 8000 Hz" "$work.inspect" || fail "not packed at 8 kHz: $(cat "$work.inspect")"
grep -q "identities: 28 ($((28 - held)) train, $held held out)" "$work.inspect" ||
  fail "pack did not hold out the $held listed voices: $(cat "$work.inspect")"
grep -q "content:    20 labels" "$work.inspect" || fail "the dataset lacks the 20 word labels: $(cat "$work.inspect")"
metrics=$work/words-small-joint/metrics.jsonl
records=$(grep -c '"fidelity_top1_real"' "$metrics") || true
[ "${records:-0}" -eq 2 ] || fail "expected identity fidelity at two evaluations in $metrics, found ${records:-0}"
grep -q '"fidelity_content_real"' "$metrics" || fail "the word reader's accuracy was not logged"
grep -q "identity fidelity from ONE reference" "$work.log" || fail "the fidelity line was not logged"
[ -s "$work/words-small-joint/grid.png" ] || fail "no grid.png"
wavs=$(find "$work/words-small-joint/grid-wav" -name '*.wav' | wc -l)
[ "$wavs" -eq $((2 * (1 + 2 * 20))) ] || fail "expected 82 WAVs (2 references x (1 + 20 words x 2)), found $wavs"
"$python" "$here/tests/interop/check_tensorboard_media.py" "$work/words-small-joint" --image fidelity/samples \
  --audio fidelity/voice0/reference --audio fidelity/voice0/generated --audio fidelity/voice1/identity_dropped \
  > "$work.tensorboard" 2>&1 || fail "TensorBoard media: $(cat "$work.tensorboard")"
read -r cosine floor top1 top1_floor <<< "$(/usr/bin/python3 -c '
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if "\"fidelity_cosine\"" in l][-1]
print("%.3f %.3f %.3f %.3f" % (last["fidelity_cosine"], last["fidelity_cosine_floor"], last["fidelity_top1"],
                               last["fidelity_top1_floor"]))' "$metrics")"
/usr/bin/python3 -c "import sys; sys.exit(0 if $cosine > $floor + 0.04 and $top1 >= $top1_floor else 1)" ||
  fail "generated words do not beat the identity-dropped floor: judge cosine $cosine vs $floor (top-1 $top1 vs $top1_floor)"
echo "PASS: spoken-words recipe (small): $held held-out voices (the 4 flite ones among them), fidelity logged twice," \
  "$wavs WAVs; from ONE reference: judge cosine $cosine vs identity-dropped $floor, top-1 $top1 vs $top1_floor"
