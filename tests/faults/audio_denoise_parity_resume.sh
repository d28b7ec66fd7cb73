#!/usr/bin/env bash
# audio_denoise_parity_resume.sh IMPRINT WORKDIR
# The audio generator (denoise objective over log-mels) under the real launcher, with every audio augmentation
# on (speed, noise, reverb, time and frequency masks, on the reference; the generator's targets stay clean):
#   1. parity: 1 rank and 2 ranks (mpirun) on the same global batch log the same losses (1e-4 relative);
#   2. exact resume: a 2-rank run killed with SIGKILL of rank 1 mid-run and resumed ends with the
#      uninterrupted run's training state bit for bit (the checkpoint's state digest).
set -u
imprint="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 1
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
fail() { echo "FAIL: $*"; tail -20 ./*.out 2>/dev/null; exit 1; }
steps=40

"$imprint" synth --modality audio --identities 24 --holdout-identities 4 --samples-per-identity 4 \
  --clip-seconds 0.5 --output data >synth.out 2>&1 || fail "imprint synth"
cat >audio.yaml <<'YAML'
seed: 5
data: {modality: audio, source: shards, path: data, clip_seconds: 0.5, augment: true, samples_per_identity: 4}
model: {name: audio_cnn, width: 8, embed_dim: 32, tokens: 2, audio: {n_mels: 32, n_fft: 256, hop: 160}}
augment: {speed: 0.1, noise_prob: 0.5, reverb_prob: 0.5, time_masks: 1, freq_masks: 1, telephone_prob: 0.5,
          codec_prob: 0.5, packet_loss_prob: 0.5, level_db: 6}
objective:
  infonce: {weight: 0.1}
  denoise: {weight: 1, train: all, width: 8, heads: 2, timesteps: 100, prediction: v, griffin_lim_iterations: 4}
train: {steps: 40, batch_size: 8, samples_per_identity: 2, log_every: 1, eval_every: 0}
eval: {gallery_per_identity: 3}
checkpoint: {every: 10}
distributed: {timeout_s: 120}
YAML
final=$(printf 'checkpoints/step-%08d.ckpt' $steps)

"$imprint" train --config audio.yaml --run-dir one-rank >one-rank.out 2>&1 || fail "1-rank audio run"
"${mpirun[@]}" "$imprint" train --config audio.yaml --run-dir whole >whole.out 2>&1 || fail "2-rank audio run"
losses() { grep '"loss"' "$1/metrics.jsonl" | sed -E 's/.*"loss":([-0-9.e]+).*"step":([0-9]+).*/\2 \1/'; }
paste <(losses one-rank) <(losses whole) >losses.txt
[ "$(wc -l <losses.txt)" -ge $steps ] || fail "too few loss records: $(cat losses.txt)"
awk '{ if ($1 != $3) { print "step mismatch: " $0; bad = 1 }
       d = $2 - $4; if (d < 0) d = -d; r = d / ($2 > 1e-12 ? $2 : 1e-12); if (r > worst) worst = r
       if (r > 1e-4) { print "loss differs at step " $1 ": " $2 " vs " $4; bad = 1 } }
     END { printf "2 ranks vs 1: losses of %d steps agree to %.1e relative (limit 1e-4)\n", NR, worst; exit bad }' \
  losses.txt || fail "1 rank and 2 ranks disagree"

reference=$("$imprint" inspect "whole/$final" | grep -o 'state digest: [0-9a-f]*')
[ -n "$reference" ] || fail "no state digest"
run="$work/killed"
"${mpirun[@]}" "$imprint" train --config audio.yaml --run-dir "$run" >killed.out 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
  [ -f "$run/checkpoints/step-00000020.ckpt" ] && break
  sleep 0.1
done
[ -f "$run/checkpoints/step-00000020.ckpt" ] || fail "no step-20 checkpoint"
ranks=$(pgrep -f -- "--run-dir $run")
for p in $ranks; do
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = imprint ] && tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
    grep -qx OMPI_COMM_WORLD_RANK=1 && kill -KILL "$p"
done
wait "$launcher" && fail "the killed job exited 0"
[ -f "$run/$final" ] && fail "the run finished before the kill"
for p in $ranks; do
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
"${mpirun[@]}" "$imprint" train --config audio.yaml --run-dir "$run" --resume >resume.out 2>&1 ||
  fail "resume after kill -9"
grep -o 'resum[a-z]* [^|]*step [0-9]*' resume.out | head -1
got=$("$imprint" inspect "$run/$final" | grep -o 'state digest: [0-9a-f]*')
echo "uninterrupted: $reference; killed at/after step 20 and resumed: $got"
[ "$got" = "$reference" ] || fail "resumed final state $got differs from the uninterrupted $reference"
echo "PASS"
