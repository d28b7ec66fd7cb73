#!/usr/bin/env bash
# One-shot font generation, end to end (docs/recipes.md): render every static face of the Debian font packages
# in font-packages.txt (one face = one identity, the glyphs A-Z = its samples, the character = the content
# label; whole families held out), pack them, then
#   1. judge.yaml     an identity judge (contrastive encoder) on the training faces only;
#   1b. reader.yaml   a character reader (one character = one identity) on the training faces' glyphs: it reads
#                     the content of generated glyphs (eval.content_judge);
#   2. joint.yaml     generator and encoder trained together: draw any character in the style of ONE other
#                     glyph of the same face; the judge scores glyphs generated for held-out families;
# and draw runs/fonts-joint/grid.png: a reference glyph of an unseen family -> the alphabet in its style.
# With --frozen, stage 2 is IP-Adapter's way instead (a generator trained without identity, then frozen):
#   2. pretrain.yaml  a diffusion generator of glyphs conditioned on the character only;
#   3. adapter.yaml   the generator FROZEN; encoder + identity branch learn the style; grid in runs/fonts-adapter.
#
#   bash recipes/fonts/run.sh --install   the full recipe (installs the font packages first; needs root)
#   bash recipes/fonts/run.sh             the same with the packages already installed
#   bash recipes/fonts/run.sh --small     a few-minute run on the fonts launch/setup.sh installs (CI)
#   bash recipes/fonts/run.sh --frozen    the frozen-generator path (combines with the others)
# --runs DIR writes under DIR instead of runs/; IMPRINT=path/to/imprint uses that binary instead of building.
# --set KEY=VALUE (repeatable) goes to every `imprint train` of every stage, after the recipe's own --set
# options, so yours win (e.g. --set train.device=cuda; with --set train.steps=N every stage trains N steps and
# its checkpoint is named by N). --print-commands prints the imprint commands the options give, one a line,
# and exits: nothing is installed, built, rendered, removed or trained.
set -euo pipefail
cd "$(dirname "$0")/../.."
recipe=recipes/fonts
usage="usage: bash $recipe/run.sh [--install] [--small] [--frozen] [--runs DIR] [--set KEY=VALUE ...]"
usage+=" [--print-commands]"
install=0 small=0 frozen=0 runs=runs print=0 user=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --small) small=1 ;;
    --frozen) frozen=1 ;;
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

packages=$recipe/font-packages.txt prefix=$runs/fonts data=$runs/data/fonts holdout=0.15
judge=() reader=() pretrain=() adapter=() joint=()
judge_steps=800 reader_steps=600 pretrain_steps=2400 adapter_steps=3600 joint_steps=2400
grid=(--max-references 8 --steps 50)
if [ "$small" = 1 ]; then
  packages=$recipe/ci-packages.txt prefix=$runs/fonts-small data=$runs/data/fonts-small holdout=0.3
  # Long enough for the joint path to beat its floor (what tests/recipes/fonts_small.sh asserts); the frozen
  # path's stages only have to run (they reach no floor this small: docs/benchmarks.md).
  judge_steps=100 reader_steps=40 pretrain_steps=60 adapter_steps=30 joint_steps=400
  small_data=(--set train.batch_size=16 --set data.train_identities=16
              --set data.eval_identities=2 --set checkpoint.every=0 --set schedule.warmup_steps=5)
  judge=("${small_data[@]}" --set train.eval_every=0)
  reader=(--set checkpoint.every=0 --set model.width=8)
  pretrain=("${small_data[@]}" --set objective.denoise.width=16 --set ema.decay=0.9)
  adapter=("${small_data[@]}" --set objective.denoise.width=16 --set train.eval_every=15
           --set eval.fidelity_identities=4 --set eval.fidelity_steps=5)
  joint=("${small_data[@]}" --set objective.denoise.width=16 --set train.eval_every=200
         --set eval.fidelity_identities=4 --set eval.fidelity_steps=5)
  grid=(--max-references 2 --steps 10)
fi
if [ "$install" = 1 ] && [ "$print" = 0 ]; then
  apt-get install -y --no-install-recommends python3-pil python3-fonttools fontconfig $(grep -v '^#' "$packages")
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

stage "render the glyphs of $packages"
stages=2 trained=("$prefix-joint")
[ "$frozen" = 1 ] && stages=3 trained=("$prefix-pretrain" "$prefix-adapter")
step rm -rf "$prefix-glyphs" "$prefix-by-char" "$data" "$data-by-char" "$prefix-judge" "$prefix-reader" \
  "${trained[@]}"
step mkdir -p "$(dirname "$data")"
step /usr/bin/python3 $recipe/render_fonts.py --packages "$packages" --out "$prefix-glyphs" \
  --holdout-fraction $holdout --by-char "$prefix-by-char"
im pack --modality image --input "$prefix-glyphs" --output "$data" --image-size 32 \
  --holdout-list "$prefix-glyphs/holdout.txt" --content-from stem
im pack --modality image --input "$prefix-by-char" --output "$data-by-char" --image-size 32

stage "1/$stages the identity judge"
im train --config $recipe/judge.yaml --run-dir "$prefix-judge" --set data.path="$data" \
  --set train.steps=$judge_steps "${judge[@]}" "${user[@]}"
judge_ckpt=$(ckpt "$prefix-judge" $judge_steps)
stage "1b/$stages the character reader (training faces' glyphs, one character = one identity)"
im train --config $recipe/reader.yaml --run-dir "$prefix-reader" --set data.path="$data-by-char" \
  --set train.steps=$reader_steps "${reader[@]}" "${user[@]}"
reader_ckpt=$(ckpt "$prefix-reader" $reader_steps)

if [ "$frozen" = 0 ]; then
  stage "2/2 generator + encoder trained together, scored by the judge"
  im train --config $recipe/joint.yaml --run-dir "$prefix-joint" --set data.path="$data" \
    --set train.steps=$joint_steps --set eval.judge="$judge_ckpt" --set eval.content_judge="$reader_ckpt" \
    "${joint[@]}" "${user[@]}"
  final=$prefix-joint
  final_ckpt=$(ckpt "$final" $joint_steps)
else
  stage "2/3 (frozen path) the generator, conditioned on the character only"
  im train --config $recipe/pretrain.yaml --run-dir "$prefix-pretrain" --set data.path="$data" \
    --set train.steps=$pretrain_steps "${pretrain[@]}" "${user[@]}"
  generator_ckpt=$(ckpt "$prefix-pretrain" $pretrain_steps)

  stage "3/3 (frozen path) encoder + identity adapter against the frozen generator, scored by the judge"
  im train --config $recipe/adapter.yaml --run-dir "$prefix-adapter" --set data.path="$data" \
    --set train.steps=$adapter_steps --set objective.denoise.generator_from="$generator_ckpt" \
    --set eval.judge="$judge_ckpt" --set eval.content_judge="$reader_ckpt" "${adapter[@]}" "${user[@]}"
  final=$prefix-adapter
  final_ckpt=$(ckpt "$final" $adapter_steps)
fi

stage "the grid: ONE reference glyph of each unseen family -> A-Z in its style"
im generate --checkpoint "$final_ckpt" --data "$data" "${grid[@]}" --guidance 3 --content all \
  --out "$final/grid.png"
stage "done: $final/grid.png; identity fidelity in $final/metrics.jsonl"
