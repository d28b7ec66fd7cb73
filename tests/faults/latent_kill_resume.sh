#!/usr/bin/env bash
# latent_kill_resume.sh IMPRINT CONFIG WORKDIR
# Latent diffusion under the real launcher: a tiny autoencoder is trained, then a generative run over its
# FROZEN latents (generator and encoder trained jointly, 2 ranks) is killed with SIGKILL of rank 1 mid-run;
# `--resume` finishes it with the same training state, bit for bit, as an uninterrupted run.
set -u
imprint="$1"; config="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2)
fail() { echo "FAIL: $*"; tail -20 "$work"/*.out 2>/dev/null; exit 1; }
steps=120

"$imprint" train --config "$config" --run-dir "$work/ae" --set objective.infonce.weight=0 \
  --set objective.autoencoder.weight=1 --set objective.autoencoder.width=8 --set train.steps=6 \
  --set checkpoint.every=6 >"$work/ae.out" 2>&1 || fail "autoencoder run"
latent=(--set objective.infonce.weight=0.1 --set objective.denoise.weight=1 --set objective.denoise.train=all
  --set objective.denoise.width=8 --set objective.denoise.timesteps=100 --set data.content_classes=3
  --set objective.denoise.content_classes=3 --set objective.denoise.prediction=v
  --set "objective.denoise.autoencoder_from=$work/ae/checkpoints/step-00000006.ckpt"
  --set train.steps=$steps --set checkpoint.every=20)
final=$(printf 'checkpoints/step-%08d.ckpt' $steps)

"${mpirun[@]}" "$imprint" train --config "$config" --run-dir "$work/whole" "${latent[@]}" >"$work/whole.out" 2>&1 ||
  fail "uninterrupted latent run"
reference=$("$imprint" inspect "$work/whole/$final" | grep -o 'state digest: [0-9a-f]*')
[ -n "$reference" ] || fail "no state digest"

run="$work/killed"
"${mpirun[@]}" "$imprint" train --config "$config" --run-dir "$run" "${latent[@]}" >"$work/killed.out" 2>&1 &
launcher=$!
# Killed once a checkpoint exists and training has gone past it.
for _ in $(seq 1 600); do
  [ -f "$run/checkpoints/step-00000040.ckpt" ] && break
  sleep 0.1
done
[ -f "$run/checkpoints/step-00000040.ckpt" ] || fail "no step-40 checkpoint"
ranks=$(pgrep -f -- "--run-dir $run")
for p in $ranks; do
  [ "$(cat /proc/$p/comm 2>/dev/null)" = imprint ] && tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
    grep -qx OMPI_COMM_WORLD_RANK=1 && kill -KILL "$p"
done
wait "$launcher" && fail "the killed job exited 0"
[ -f "$run/$final" ] && fail "the run finished before the kill"
# mpirun has returned; its ranks may still be exiting (rank 0 holds the run directory's lock until it is gone,
# and an exiting process's command line is already empty, so wait on the pids).
for p in $ranks; do
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
"${mpirun[@]}" "$imprint" train --config "$config" --run-dir "$run" "${latent[@]}" --resume \
  >"$work/resume.out" 2>&1 || fail "resume after kill -9"
grep -o 'resum[a-z]* [^|]*step [0-9]*' "$work/resume.out" | head -1
got=$("$imprint" inspect "$run/$final" | grep -o 'state digest: [0-9a-f]*')
echo "uninterrupted: $reference; killed at/after step 40 and resumed: $got"
[ "$got" = "$reference" ] || fail "resumed final state $got differs from the uninterrupted $reference"
echo "PASS"
