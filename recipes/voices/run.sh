#!/usr/bin/env bash
# Speaker verification on real synthetic speech, end to end (docs/recipes.md): render every voice of
# voices.tsv with Debian's TTS engines (espeak-ng variants, festival + festvox voices, flite; one voice = one
# identity, 30 utterances = its samples; a voice that fails to render is skipped and listed), plus pitch-shifted
# pseudo-speakers of the training voices (render_voices.py says why that is sound); hold out the
# whole flite engine and a share of the other voices by a hash of their id, pack at 8 kHz, and train
# voices.yaml: an ECAPA-TDNN with AAM-softmax + supervised contrastive loss on P x K batches, with channel
# augmentation (telephone band, G.711 codecs, lost packets, level, room), evaluated on the held-out voices
# from ONE reference (top-1) and by verification EER / minDCF over every pair of their utterances; the best
# checkpoint by EER on the validation voices is kept. Last, robustness.sh scores the final checkpoint on the
# voices of the engines it trained on, the engine it never heard, and both through GSM, a codec it never heard.
#
#   bash recipes/voices/run.sh --install   the full recipe (installs the TTS packages first; needs root)
#   bash recipes/voices/run.sh             the same with the packages already installed
#   bash recipes/voices/run.sh --small     a few-minute run on 12 espeak-ng/flite voices (launch/setup.sh installs them; CI)
#   bash recipes/voices/run.sh --plain     without pseudo-speakers and channel augmentation: the "before" of
#                                          docs/benchmarks.md, on the same split
# --runs DIR writes under DIR instead of runs/; IMPRINT=path/to/imprint uses that binary instead of building;
# PEER_PYTHON=a Python with `pip install resemblyzer` adds a pretrained peer's rows to robustness.sh's table.
# --set KEY=VALUE (repeatable) goes to `imprint train` after the recipe's own --set options, so yours win
# (e.g. --set train.device=cuda, --set augment.noise_prob=0.5). --print-commands prints the imprint commands
# the options give, one a line, and exits: nothing is installed, built, rendered, removed or trained.
set -euo pipefail
cd "$(dirname "$0")/../.."
recipe=recipes/voices
usage="usage: bash $recipe/run.sh [--install] [--small] [--plain] [--runs DIR] [--set KEY=VALUE ...] [--print-commands]"
install=0 small=0 plain=0 runs=runs print=0 user=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --small) small=1 ;;
    --plain) plain=1 ;;
    --runs) runs=${2:?--runs needs a folder}; shift ;;
    --set) [[ "${2:-}" == ?*=* ]] || { echo "--set needs KEY=VALUE; $usage" >&2; exit 2; }; user+=(--set "$2"); shift ;;
    --print-commands) print=1 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done

voices=$recipe/voices.tsv prefix=$runs/voices data=$runs/data/voices holdout=0.15 utterances=30 train=()
pitches=25,75 shifts=-300,300
if [ "$small" = 1 ]; then
  voices=$recipe/ci-voices.tsv prefix=$runs/voices-small data=$runs/data/voices-small holdout=0.06 utterances=8
  train=(--set train.steps=30 --set train.batch_size=4 --set train.eval_every=15 --set checkpoint.every=15
         --set data.samples_per_identity=8 --set eval.gallery_per_identity=7 --set model.width=4
         --set schedule.warmup_steps=5 --set objective.aam.margin_warmup_steps=10 --set eval.validation_identities=2)
fi
if [ "$plain" = 1 ]; then
  prefix=$prefix-plain data=$data-plain pitches="" shifts=""
  train+=(--set augment.telephone_prob=0 --set augment.codec_prob=0 --set augment.packet_loss_prob=0
          --set augment.level_db=0 --set augment.reverb_prob=0)
fi
if [ "$install" = 1 ] && [ "$print" = 0 ]; then
  apt-get install -y --no-install-recommends $(grep -v '^#' $recipe/packages.txt)
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

stage "render the voices of $voices"
step rm -rf "$prefix-speech" "$data" "$prefix"
step mkdir -p "$(dirname "$data")"
step /usr/bin/python3 $recipe/render_voices.py --voices "$voices" --sentences $recipe/sentences.txt \
  --out "$prefix-speech" --utterances $utterances --holdout-fraction $holdout --holdout-engine flite \
  --pitch-speakers "$pitches" --shift-speakers="$shifts"
im pack --modality audio --input "$prefix-speech" --output "$data" --sample-rate 8000 \
  --holdout-list "$prefix-speech/holdout.txt"

stage "train the speaker encoder (held-out voices: top-1 from ONE reference, EER, minDCF)"
im train --config $recipe/voices.yaml --run-dir "$prefix" --set data.path="$data" "${train[@]}" "${user[@]}"
stage "off the training distribution: the engine never heard, and GSM (robustness.sh, the final checkpoint)"
last=$prefix/checkpoints/LAST.ckpt
if [ "$print" = 0 ]; then for c in "$prefix"/checkpoints/step-*.ckpt; do last=$c; done; fi  # the newest step
step env IMPRINT="$imprint" bash $recipe/robustness.sh "$prefix-speech" "$last" "$prefix-robustness"
stage "done: $prefix/metrics.jsonl; the best checkpoint by EER: $prefix/best.ckpt ($prefix/best.json);" \
  "robustness: $prefix-robustness/robustness.tsv"
