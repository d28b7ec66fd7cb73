#!/usr/bin/env bash
# recipes/fonts/run.sh and recipes/voices/run.sh pass every --set KEY=VALUE to every `imprint train` they run,
# after their own --set options, so the user's values win; checked without training: --print-commands lists
# the commands (and must install, build, render, remove and run nothing), every train command ends with the
# user's options, and `imprint train --dry-run` of it resolves train.steps, train.device and train.log_every
# to the user's values, also where the recipe sets the key itself (train.steps in every font stage). The
# recipes' own options (--small, --frozen, --runs) still shape the commands, and the font stages'
# checkpoints are named by the user's train.steps.
#   recipe_set_passthrough.sh IMPRINT WORKDIR
set -euo pipefail
imprint=$1 work=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work/bin"
fail() { echo "FAIL: $*"; exit 1; }
# Stand-ins that record being run: the recipe's binary (IMPRINT), and apt-get and cmake (--install, the build).
for tool in must-not-run apt-get cmake; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/ran"\nexit 1\n' "$tool" "$work" > "$work/bin/$tool"
  chmod +x "$work/bin/$tool"
done
user=(--set train.steps=7 --set train.device=cpu --set train.log_every=3)

# check RECIPE TRAINS PREFIX [OPTIONS...]: --print-commands with OPTIONS lists TRAINS train commands whose run
# directories are under $work/runs and start with PREFIX, each passing the user's --set options last.
check() {
  local recipe=$1 trains=$2 prefix=$3 out line n=0 binary="$work/bin/must-not-run" env="$work/bin/must-not-run"
  shift 3
  local what="recipes/$recipe/run.sh $* --set ... --print-commands"
  [ "${NO_IMPRINT:-0}" = 1 ] && binary=./build/imprint env=
  out=$(PATH="$work/bin:$PATH" IMPRINT=$env \
        bash "$here/recipes/$recipe/run.sh" "$@" --runs "$work/runs" "${user[@]}" --print-commands 2>&1) ||
    fail "$what exited non-zero: $out"
  [ ! -e "$work/ran" ] || fail "$what ran something: $(cat "$work/ran")"
  [ ! -e "$work/runs" ] || fail "$what wrote $work/runs"
  while read -r line; do
    local cmd=()
    eval "cmd=($line)"
    [ "${cmd[0]}" = "$binary" ] || fail "$what printed '$line', not a command of $binary"
    local steps7=checkpoints/step-00000007.ckpt
    [ "${cmd[1]}" = generate ] && { [[ "$line" == *"--checkpoint $work/runs/$prefix"*"/$steps7 "* ]] ||
      fail "$what: the grid is not drawn from the checkpoint of the user's train.steps: $line"; }
    [ "${cmd[1]}" = train ] || continue
    n=$((n + 1))
    [[ "$line" == *" --run-dir $work/runs/$prefix"* ]] || fail "$what: run directory not $work/runs/$prefix*: $line"
    [[ "$line" != *"eval.judge="* || "$line" == *"eval.judge=$work/runs/${prefix}judge/$steps7"* ]] ||
      fail "$what: the judge is not the checkpoint of the user's train.steps: $line"
    [ "${cmd[*]: -${#user[@]}}" = "${user[*]}" ] || fail "$what: the user's --set options are not last: $line"
    (cd "$here" && "$imprint" "${cmd[@]:1}" --dry-run) > "$work/dry-run.log" 2>&1 ||
      fail "$what: imprint train --dry-run refused: $line: $(tail -3 "$work/dry-run.log")"
    local train
    train=$(awk '/^train:/ {f = 1; next} /^[^ ]/ {f = 0} f' "$work/dry-run.log")
    for want in "steps: 7" "device: cpu" "log_every: 3"; do
      grep -qx "  $want" <<< "$train" || fail "$what: the resolved config has not train.$want: $line"
    done
  done <<< "$out"
  [ "$n" = "$trains" ] || fail "$what printed $n train commands, expected $trains: $out"
  echo "ok: $what: $n train command(s), the user's values win"
}
check fonts 3 fonts- --install
check fonts 4 fonts- --frozen
check fonts 3 fonts-small- --small
check fonts 4 fonts-small- --small --frozen
check voices 1 voices --install
check voices 1 voices-small --small
check voices 1 voices-plain --plain  # the "before": user values still last, after its augment.* zeros
NO_IMPRINT=1 check fonts 3 fonts-  # without IMPRINT: the build is not run either
NO_IMPRINT=1 check voices 1 voices

# Malformed --set and unknown options: the usage, exit 2, nothing run.
for recipe in fonts voices; do
  for bad in "--set" "--set novalue" "--set =x" "--bogus"; do
    rc=0
    out=$(PATH="$work/bin:$PATH" IMPRINT="$work/bin/must-not-run" bash "$here/recipes/$recipe/run.sh" $bad \
          --print-commands 2>&1) || rc=$?
    [ "$rc" = 2 ] && grep -q "usage: bash recipes/$recipe/run.sh .*--set KEY=VALUE" <<< "$out" ||
      fail "recipes/$recipe/run.sh $bad: expected the usage and exit 2, got exit $rc: $out"
    [ ! -e "$work/ran" ] || fail "recipes/$recipe/run.sh $bad ran something: $(cat "$work/ran")"
  done
done
echo "PASS: both recipes pass --set to every imprint train, after their own; --print-commands runs nothing"
