#!/usr/bin/env bash
# One-shot spoken words in an unseen voice, end to end (docs/recipes.md): render the 20 words of words.txt in
# every English voice of recipes/voices/voices.tsv with Debian's TTS engines (one voice = one identity, one word
# = one content label), hold out whole voices AND every voice of one engine (flite), pack at 8 kHz, then
#   1. the speaker judge: an ECAPA-TDNN trained on the training voices only (judge.yaml);
#   1b. the word reader: an encoder whose identities are the words, trained on the training voices' clips
#      (reader.yaml; eval.content_judge);
#   2. the audio generator (a diffusion UNet over log-mels) and the speaker encoder trained together
#      (joint.yaml), scored in the loop from ONE reference clip of each held-out voice: the judge's top-1 and
#      cosine of the vocoded (Griffin-Lim) words beside the identity-dropped floor and the real-clip ceiling,
#      and the reader's word accuracy;
#   then `imprint generate`: the mel grid and the WAVs of every word for a few unseen voices.
#
#   bash recipes/words/run.sh --install   the full recipe (installs the TTS packages first; needs root)
#   bash recipes/words/run.sh             the same with the packages already installed
#   bash recipes/words/run.sh --small     a few-minute run on 24 espeak-ng voices + 4 flite (launch/setup.sh installs them; CI)
# --runs DIR writes under DIR instead of runs/; IMPRINT=path/to/imprint uses that binary instead of building.
# --set KEY=VALUE (repeatable) goes to every `imprint train` of every stage, after the recipe's own --set
# options, so yours win. --print-commands prints the imprint commands the options give, one a line, and exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
recipe=recipes/words
usage="usage: bash $recipe/run.sh [--install] [--small] [--runs DIR] [--set KEY=VALUE ...] [--print-commands]"
install=0 small=0 runs=runs print=0 user=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --small) small=1 ;;
    --runs) runs=${2:?--runs needs a folder}; shift ;;
    --set) [[ "${2:-}" == ?*=* ]] || { echo "--set needs KEY=VALUE; $usage" >&2; exit 2; }; user+=(--set "$2"); shift ;;
    --print-commands) print=1 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
# The step a stage's final checkpoint is named by: the user's train.steps when given (the last one wins).
user_steps=
for arg in "${user[@]}"; do [[ "$arg" =~ ^train\.steps=([0-9]+)$ ]] && user_steps=${BASH_REMATCH[1]}; done
ckpt() { printf '%s/checkpoints/step-%08d.ckpt' "$1" "${user_steps:-$2}"; }

voices=recipes/voices/voices.tsv prefix=$runs/words data=$runs/data/words holdout=0.15
judge=() reader=() joint=()
judge_steps=600 reader_steps=300 joint_steps=3400 grid=(--max-references 6 --steps 50)
if [ "$small" = 1 ]; then
  voices=$recipe/ci-voices.tsv prefix=$runs/words-small data=$runs/data/words-small holdout=0.2
  judge_steps=80 reader_steps=60 joint_steps=600
  judge=(--set train.batch_size=8 --set train.eval_every=0 --set checkpoint.every=0 --set model.width=8)
  reader=(--set checkpoint.every=0 --set model.width=8)
  joint=(--set train.batch_size=16 --set checkpoint.every=0 --set train.eval_every=300 --set model.width=8
         --set objective.denoise.width=16 --set eval.fidelity_identities=6 --set eval.fidelity_steps=10
         --set schedule.warmup_steps=20)
  grid=(--max-references 2 --steps 10)
fi
if [ "$install" = 1 ] && [ "$print" = 0 ]; then
  # shellcheck disable=SC2046  # one package per word
  apt-get install -y --no-install-recommends $(grep -v "^#" recipes/voices/packages.txt)
fi

imprint=${IMPRINT:-}
if [ -z "$imprint" ]; then
  [ "$print" = 1 ] || bash launch/build.sh --target imprint
  imprint=./build/imprint
fi
start=$SECONDS
stage() { [ "$print" = 1 ] || echo "== $1 ($((SECONDS - start)) s since the start)"; }
# Every imprint command goes through im, so --print-commands lists exactly what a run would execute; the
# other steps (render, remove, mkdir) go through step, which --print-commands skips.
im() {
  if [ "$print" = 1 ]; then local line; line=$(printf '%q ' "$imprint" "$@"); echo "${line% }"; else "$imprint" "$@"; fi
}
step() { [ "$print" = 1 ] || "$@"; }

stage "render the words of $recipe/words.txt in the voices of $voices"
step rm -rf "$prefix-speech" "$prefix-by-word" "$data" "$data-by-word" "$prefix-judge" "$prefix-reader" "$prefix-joint"
step mkdir -p "$(dirname "$data")"
step /usr/bin/python3 $recipe/render_words.py --voices "$voices" --words $recipe/words.txt --out "$prefix-speech" \
  --holdout-engine flite --holdout-fraction $holdout --by-word "$prefix-by-word"
im pack --modality audio --input "$prefix-speech" --output "$data" --sample-rate 8000 \
  --holdout-list "$prefix-speech/holdout.txt" --content-from stem
im pack --modality audio --input "$prefix-by-word" --output "$data-by-word" --sample-rate 8000

stage "1/2 the speaker judge (training voices only)"
im train --config $recipe/judge.yaml --run-dir "$prefix-judge" --set data.path="$data" \
  --set train.steps=$judge_steps "${judge[@]}" "${user[@]}"
judge_ckpt=$(ckpt "$prefix-judge" $judge_steps)
stage "1b/2 the word reader (training voices' clips, one word = one identity)"
im train --config $recipe/reader.yaml --run-dir "$prefix-reader" --set data.path="$data-by-word" \
  --set train.steps=$reader_steps "${reader[@]}" "${user[@]}"
reader_ckpt=$(ckpt "$prefix-reader" $reader_steps)

stage "2/2 audio generator + speaker encoder trained together, scored by the judge and the reader"
im train --config $recipe/joint.yaml --run-dir "$prefix-joint" --set data.path="$data" \
  --set train.steps=$joint_steps --set eval.judge="$judge_ckpt" --set eval.content_judge="$reader_ckpt" \
  "${joint[@]}" "${user[@]}"
final_ckpt=$(ckpt "$prefix-joint" $joint_steps)

stage "ONE reference clip of each unseen voice -> every word in that voice (mel grid + WAVs)"
im generate --checkpoint "$final_ckpt" --data "$data" "${grid[@]}" --guidance 3 --content all \
  --out "$prefix-joint/grid.png"
stage "done: $prefix-joint/grid.png, the WAVs in $prefix-joint/grid-wav/; identity fidelity in $prefix-joint/metrics.jsonl"
