#!/usr/bin/env bash
# imprint's speaker encoder beside a pretrained peer (Resemblyzer, bench/resemblyzer_embed.py) on the SAME
# clips of held-out voices, scored by the same code (`imprint eval --embeddings`): top-1 from ONE reference,
# top-1 with every clip as the reference, EER, minDCF(0.01) over every pair; for all held-out voices, and split into the voices of engines the encoder
# trained on and the voices of the engine it never heard (the recipes hold flite out whole).
#
#   bash bench/speaker_peer_compare.sh SPEECH_DIR CKPT PEER_PYTHON OUT [CLIP_SECONDS] [HELD_ENGINE_PREFIX]
# SPEECH_DIR: a recipe's rendered voices with its holdout.txt (e.g. runs/words-speech); CKPT: an imprint
# checkpoint of a speaker encoder (e.g. runs/words-judge/checkpoints/step-00000600.ckpt); PEER_PYTHON: a Python
# with `pip install resemblyzer`. Defaults: 1.0 s clips, engine prefix flite_.
set -euo pipefail
speech=$1 ckpt=$2 peer_python=$3 out=$4 clip=${5:-1.0} engine=${6:-flite_}
imprint=${IMPRINT:-./build/imprint}
rm -rf "$out"; mkdir -p "$out"
for set in all seen_engines held_engine; do mkdir -p "$out/$set"; done
while read -r voice; do
  [ -n "$voice" ] || continue
  src=$(cd "$speech/$voice" && pwd)  # folders of links to the files (embed does not descend into linked folders)
  cp -rs "$src" "$out/all/$voice"
  if [[ "$voice" == "$engine"* ]]; then cp -rs "$src" "$out/held_engine/$voice"; else cp -rs "$src" "$out/seen_engines/$voice"; fi
done < "$speech/holdout.txt"
gallery=$(( $(find -L "$out/all" -mindepth 2 -name '*.wav' | wc -l) / $(find "$out/all" -mindepth 1 -maxdepth 1 | wc -l) - 1 ))
printf '%-13s %-12s %6s %8s %12s %8s %8s\n' set encoder voices top1 top1_every eer mindcf
for set in all seen_engines held_engine; do
  voices=$(find "$out/$set" -mindepth 1 -maxdepth 1 | wc -l)
  [ "$voices" -ge 2 ] || continue
  "$imprint" embed --checkpoint "$ckpt" --input "$out/$set" --out "$out/emb-imprint-$set" --clip-seconds "$clip" \
    > "$out/emb-imprint-$set.log" 2>&1
  "$peer_python" "$(dirname "$0")/resemblyzer_embed.py" --input "$out/$set" --out "$out/emb-peer-$set" \
    --clip-seconds "$clip" > "$out/emb-peer-$set.log" 2>&1
  for who in imprint peer; do
    "$imprint" eval --embeddings "$out/emb-$who-$set" --gallery-per-identity "$gallery" \
      --json "$out/$who-$set.json" > "$out/eval-$who-$set.log" 2>&1
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("%-13s %-12s %6s %7.1f%% %11.1f%% %7.2f%% %8.3f" % (sys.argv[2], sys.argv[3], sys.argv[4], 100 * r["top1"],
      100 * r["top1_all_queries"], 100 * r["eer"], r["min_dcf"]))' \
      "$out/$who-$set.json" "$set" "$( [ $who = imprint ] && echo imprint || echo resemblyzer)" "$voices"
  done
done
