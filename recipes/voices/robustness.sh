#!/usr/bin/env bash
# How the speaker encoder holds up off its training distribution (docs/benchmarks.md "Speaker encoder off its
# training distribution"): EER / minDCF(0.01) / top-1 from ONE reference on the held-out voices of the engines
# it trained on, on the voices of the engine it never heard (--holdout-engine of render_voices.py), and on
# both through a channel it never heard: GSM 06.10 full rate, encoded and decoded by sox (the training
# channel augmentation draws only from G.711 mu-law and A-law: recipes/voices/voices.yaml augment.codecs).
# Every file is cut to its first CLIP seconds exactly as `imprint embed` cuts it; scored by `imprint eval
# --embeddings`, every pair of utterances of the set's voices.
#
#   bash recipes/voices/robustness.sh SPEECH_DIR CKPT OUT [CLIP_SECONDS] [HELD_ENGINE_PREFIX]
# SPEECH_DIR: render_voices.py's output with its holdout.txt (e.g. runs/voices-speech); CKPT: a speaker
# encoder checkpoint. Defaults: 2.0 s, flite_. Writes OUT/robustness.tsv and prints it as a table.
# PEER_PYTHON=a Python with `pip install resemblyzer` adds a pretrained peer's rows (bench/resemblyzer_embed.py)
# on the same clips, scored by the same `imprint eval --embeddings`: a comparison, never a teacher.
set -euo pipefail
speech=${1:?SPEECH_DIR}; ckpt=${2:?CKPT}; out=${3:?OUT}; clip=${4:-2.0}; engine=${5:-flite_}
imprint=${IMPRINT:-./build/imprint}
command -v sox >/dev/null || { echo "robustness.sh: sox is not installed (apt-get install sox)" >&2; exit 2; }
[ -s "$speech/holdout.txt" ] || { echo "robustness.sh: $speech/holdout.txt: no held-out voices" >&2; exit 2; }
rm -rf "$out"; mkdir -p "$out"
for set in seen_engines held_engine; do mkdir -p "$out/$set" "$out/$set-gsm"; done
while read -r voice; do
  [ -n "$voice" ] || continue
  set=seen_engines; [[ "$voice" == "$engine"* ]] && set=held_engine
  src=$(cd "$speech/$voice" && pwd)
  cp -rs "$src" "$out/$set/$voice"  # links: the clean clips as rendered
  mkdir -p "$out/$set-gsm/$voice"
  for f in "$src"/*.wav; do echo "$f $out/$set-gsm/$voice/$(basename "$f")"; done
done < "$speech/holdout.txt" > "$out/gsm-jobs.txt"
# 8 kHz mono -> GSM 06.10 -> 16-bit PCM, one sox pipe a file, two at a time; no dither (-D), errors only (-V1).
# shellcheck disable=SC2016  # $0 and $1 are the inner shell's
xargs -P 2 -n 2 sh -c 'sox -V1 -D "$0" -r 8000 -c 1 -t gsm - | sox -V1 -D -t gsm -r 8000 -c 1 - -b 16 "$1"' \
  < "$out/gsm-jobs.txt" || { echo "robustness.sh: sox could not round-trip a clip through GSM (above)" >&2; exit 1; }
encoders=(imprint); [ -z "${PEER_PYTHON:-}" ] || encoders+=(resemblyzer)
peer=$(cd "$(dirname "$0")/../../bench" && pwd)/resemblyzer_embed.py
printf 'set\tencoder\tvoices\ttop1\ttop1_every\teer\tmin_dcf\n' > "$out/robustness.tsv"
for set in seen_engines held_engine seen_engines-gsm held_engine-gsm; do
  voices=$(find "$out/$set" -mindepth 1 -maxdepth 1 | wc -l)
  if [ "$voices" -lt 2 ]; then echo "robustness.sh: $set: $voices voice(s), not scored" >&2; continue; fi
  gallery=$(( $(find -L "$out/$set" -mindepth 2 -name '*.wav' | wc -l) / voices - 1 ))
  for who in "${encoders[@]}"; do
    if [ "$who" = imprint ]; then
      "$imprint" embed --checkpoint "$ckpt" --input "$out/$set" --out "$out/emb-$who-$set" --clip-seconds "$clip" \
        > "$out/embed-$who-$set.log" 2>&1 || { cat "$out/embed-$who-$set.log" >&2; exit 1; }
    else
      "$PEER_PYTHON" "$peer" --input "$out/$set" --out "$out/emb-$who-$set" --clip-seconds "$clip" \
        > "$out/embed-$who-$set.log" 2>&1 || { cat "$out/embed-$who-$set.log" >&2; exit 1; }
    fi
    "$imprint" eval --embeddings "$out/emb-$who-$set" --gallery-per-identity "$gallery" --json "$out/$who-$set.json" \
      > "$out/eval-$who-$set.log" 2>&1 || { cat "$out/eval-$who-$set.log" >&2; exit 1; }
    /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("\t".join(sys.argv[2:5] + ["%.4f" % r["top1"], "%.4f" % r["top1_all_queries"], "%.4f" % r["eer"],
                                 "%.3f" % r["min_dcf"]]))' "$out/$who-$set.json" "$set" "$who" "$voices" >> "$out/robustness.tsv"
  done
done
/usr/bin/python3 - "$out/robustness.tsv" <<'PY'
import csv, sys
rows = {(r["set"], r["encoder"]): r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
names = {"seen_engines": "held-out voices, engines trained on", "held_engine": "the engine never heard",
         "seen_engines-gsm": "engines trained on, through GSM", "held_engine-gsm": "engine never heard, through GSM"}
print("%-36s %-12s %6s %8s %10s %7s %7s" % ("held-out voices", "encoder", "voices", "top-1", "top-1 all", "EER",
                                            "minDCF"))
for (k, who), r in rows.items():
    print("%-36s %-12s %6s %7.1f%% %9.1f%% %6.2f%% %7.3f" % (names[k], who, r["voices"], 100 * float(r["top1"]),
          100 * float(r["top1_every"]), 100 * float(r["eer"]), float(r["min_dcf"])))
for who in sorted({w for _, w in rows}, key=lambda w: w != "imprint"):
    seen = float(rows[("seen_engines", who)]["eer"]) if ("seen_engines", who) in rows else 0
    for k, what, target in (("held_engine", "engine never heard / engines trained on", 2.0),
                            ("seen_engines-gsm", "GSM / clean", 1.5)):
        if seen > 0 and (k, who) in rows:
            ratio = float(rows[(k, who)]["eer"]) / seen
            print("%s EER ratio, %s: %.2fx (target <= %.1fx: %s)" % (who, what, ratio, target,
                  "reached" if ratio <= target else "NOT reached"))
PY
