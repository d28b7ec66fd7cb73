// The sample space of AUDIO generation: a fixed log-mel "codec" in the Autoencoder role, so the image
// machinery (the UNet, the DDIM sampler, the denoise objective, fidelity evaluation) serves speech unchanged.
//   encode: waveform [B, T] -> its log-mel [B, 1, n_mels, frames], normalised to about [-2.5, 2.5]
//           ((log-mel - kMelCentre) / kMelScale; fixed constants, so a checkpoint means the same everywhere);
//           the frames are cut to a multiple of 4 (the UNet's two 2x downsamplings);
//   decode: the log-mel back to a waveform [B, T] by a vocoder: Griffin-Lim over the mel filterbank's
//           pseudo-inverse (built in, generation/griffin_lim.h), or the user's TorchScript vocoder
//           (forward(mel [B, n_mels, frames]: natural-log mel power as imprint's front end computes it) ->
//           wav [B, T'] at the run's sample rate; cut or zero-padded to T).
// The mel settings are the encoder's front end (model.audio.*), the clip the run's data.clip_seconds. Nothing in
// it trains: no parameters, and the vocoder is frozen (its file's hash goes into the model signature).
#pragma once
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <string>
#include <vector>

#include "generation/autoencoder.h"
#include "generation/griffin_lim.h"
#include "models/log_mel.h"

namespace imprint {

struct MelCodecSpec {
  int64_t sample_rate = 8000, n_fft = 256, hop = 80, n_mels = 40;
  int64_t clip_samples = 8000;
  int64_t griffin_lim_iterations = 32;
  std::string vocoder_script;  // "" = Griffin-Lim
};

// The normalisation of the log-mel (natural log of mel power + 1e-6, as models/log_mel.h): speech clips at
// [-1, 1] peak near +8 and digital silence is log(1e-6) = -13.8, so (x + 4) / 4 puts them at about 3 and -2.5.
constexpr double kMelCentre = -4.0, kMelScale = 4.0;

class MelCodec final : public Autoencoder {
 public:
  // Throws std::invalid_argument naming the key or the vocoder file (a trial call checks its signature).
  explicit MelCodec(const MelCodecSpec& spec);
  at::Tensor encode(const at::Tensor& audio) override;  // [B, T] -> [B, 1, n_mels, frames]
  at::Tensor decode(const at::Tensor& mel) override;    // -> [B, T]
  std::vector<int64_t> latent_shape(int64_t) const override { return {1, spec_.n_mels, frames_}; }
  using Autoencoder::to;
  void to(torch::Device device, bool non_blocking = false) override;
  // Natural-log mel power [B, n_mels, frames] of the normalised sample (what a vocoder script reads).
  at::Tensor log_mel(const at::Tensor& mel) const;
  // The normalised sample as a picture [B, 3, n_mels, frames] in imprint's pixel model range, low
  // frequencies at the bottom (the sample grids of generation and fidelity evaluation).
  static at::Tensor picture(const at::Tensor& mel);
  const MelCodecSpec& spec() const { return spec_; }

 private:
  at::Tensor vocode(const at::Tensor& log_mel);
  MelCodecSpec spec_;
  int64_t frames_ = 0, all_frames_ = 0;  // kept / as the front end computes them for a clip
  LogMel front_{nullptr};
  at::Tensor inverse_;  // [n_fft / 2 + 1, n_mels] pseudo-inverse of the filterbank
  std::optional<torch::jit::Module> vocoder_;
};

}  // namespace imprint
