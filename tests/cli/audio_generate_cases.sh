#!/usr/bin/env bash
# audio_generate_cases.sh IMPRINT CONFIG WORKDIR — the audio generator under the real binary: a tiny run over
# synthetic voices, then `generate` writes a log-mel grid and WAVs, `eval --judge` scores its fidelity on an
# audio dataset, and each mistake a user can make with audio is one message and exit 2: an image reference for
# an audio checkpoint (and a clip for an image one), content labels the generator does not have, a dataset at
# another sample rate, an image judge for an audio run, a vocoder file that is not TorchScript.
set -u
imprint="$1"; config="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"; expect="$here/expect.sh"
rm -rf "$work"; mkdir -p "$work"
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
audio=(--set data.modality=audio --set data.clip_seconds=0.25 --set model.audio.n_mels=24 --set model.audio.n_fft=128
  --set model.audio.hop=64 --set objective.denoise.weight=1 --set objective.denoise.width=8
  --set objective.denoise.heads=2 --set objective.denoise.timesteps=50 --set objective.denoise.griffin_lim_iterations=4
  --set train.steps=4 --set checkpoint.every=4)
ckpt=checkpoints/step-00000004.ckpt
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir "$work/audio" "${audio[@]}"
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir "$work/judge" "${audio[@]}" \
  --set objective.denoise.weight=0
check --exit 0 --within 60 -- "$imprint" synth --modality audio --identities 8 --samples-per-identity 4 \
  --clip-seconds 0.25 --output "$work/voices"
check --exit 0 --within 60 -- "$imprint" synth --modality audio --identities 8 --samples-per-identity 4 \
  --clip-seconds 0.25 --sample-rate 16000 --output "$work/voices16k"

check --exit 0 --within 120 --match "wrote $work/grid.png: 2 reference\(s\)" \
  --match "wrote 6 WAV file\(s\) into $work/grid-wav" -- \
  "$imprint" generate --checkpoint "$work/audio/$ckpt" --data "$work/voices" --max-references 2 --steps 3 \
  --out "$work/grid.png"
first=$(find "$work/grid-wav" -name '*-reference.wav' | sort | head -1)
check --exit 0 --within 120 --match "wrote 3 WAV file\(s\)" -- \
  "$imprint" generate --checkpoint "$work/audio/$ckpt" --reference "$first" --steps 3 --out "$work/one.png"
check --exit 0 --within 180 --match "identity fidelity from ONE reference \(2 held-out identities, 8 samples" -- \
  "$imprint" eval --checkpoint "$work/audio/$ckpt" --data "$work/voices" --judge "$work/judge/$ckpt" \
  --gallery-per-identity 3

check --exit 2 --within 60 --match "--reference: $here/../fixtures/pattern16.png: not a readable WAV/FLAC file.*the checkpoint's encoder reads audio" -- \
  "$imprint" generate --checkpoint "$work/audio/$ckpt" --reference "$here/../fixtures/pattern16.png" --steps 3 \
  --out "$work/bad.png"
check --exit 2 --within 60 --match "--content: this generator was trained without content labels" -- \
  "$imprint" generate --checkpoint "$work/audio/$ckpt" --data "$work/voices" --content yes --steps 3 \
  --out "$work/bad.png"
check --exit 2 --within 60 --match "--data: $work/voices16k holds audio samples at 16000 Hz; the checkpoint's encoder reads audio at 8000 Hz" -- \
  "$imprint" generate --checkpoint "$work/audio/$ckpt" --data "$work/voices16k" --steps 3 --out "$work/bad.png"
check --exit 0 --within 120 -- "$imprint" train --config "$config" --run-dir "$work/image" \
  --set objective.denoise.weight=1 --set objective.denoise.width=8 --set objective.denoise.heads=2 \
  --set objective.denoise.timesteps=50 --set train.steps=4 --set checkpoint.every=4
check --exit 2 --within 60 --match "--reference: $first: not a readable PNG/JPEG image.*the checkpoint's encoder reads images" -- \
  "$imprint" generate --checkpoint "$work/image/$ckpt" --reference "$first" --steps 3 --out "$work/bad.png"
check --exit 2 --within 60 --match "eval.judge: $work/image/$ckpt: this judge reads 16-pixel images; the generator makes audio at 8000 Hz" -- \
  "$imprint" train --config "$config" --run-dir "$work/wrong-judge" "${audio[@]}" --set eval.judge="$work/image/$ckpt" \
  --set train.eval_every=2
echo "not torchscript" > "$work/vocoder.pt"
check --exit 2 --within 60 --match "objective.denoise.vocoder_script: $work/vocoder.pt: not a TorchScript file" -- \
  "$imprint" train --config "$config" --run-dir "$work/wrong-vocoder" "${audio[@]}" \
  --set objective.denoise.vocoder_script="$work/vocoder.pt"
echo "PASS"
