// Magnitude spectrogram -> waveform by Griffin-Lim phase reconstruction (Griffin & Lim 1984) with the
// momentum of the "fast Griffin-Lim" (Perraudin et al. 2013, librosa's default 0.99): the built-in vocoder of
// audio generation (generation/mel_codec.h). Frames as LogMel cuts them: Hann window of n_fft, hop, centred
// with reflect padding, so stft(griffin_lim(S)) approximates S.
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>

namespace imprint {

struct GriffinLimOptions {
  int64_t n_fft = 256, hop = 80;
  int64_t iterations = 32;
  double momentum = 0.99;
};

// magnitude [B, n_fft / 2 + 1, frames] (non-negative) -> waveform [B, length]. Deterministic: the phase starts
// at zero, so the same magnitudes give the same waveform on every rank and in every run.
at::Tensor griffin_lim(const at::Tensor& magnitude, int64_t length, const GriffinLimOptions& options);

// How close a waveform's magnitude is to the one asked for: ||S - |STFT(x)| ||_F / ||S||_F (spectral
// convergence), the usual check of a phase reconstruction.
double spectral_convergence(const at::Tensor& magnitude, const at::Tensor& waveform, const GriffinLimOptions& options);

}  // namespace imprint
