#include "generation/mel_codec.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/jit/serialization/import.h>

#include <stdexcept>

#include "core/pixels.h"
#include "core/text.h"

namespace imprint {

MelCodec::MelCodec(const MelCodecSpec& spec) : spec_(spec) {
  all_frames_ = 1 + spec.clip_samples / spec.hop;  // centred frames of a clip (models/log_mel.h)
  frames_ = all_frames_ / 4 * 4;
  if (spec.n_mels % 4 != 0)
    throw std::invalid_argument("model.audio.n_mels: " + std::to_string(spec.n_mels) +
                                " must be a multiple of 4 for the audio generator (its UNet downsamples the mel "
                                "axis twice by 2)");
  if (frames_ < 4)
    throw std::invalid_argument("data.clip_seconds: a clip of " + std::to_string(spec.clip_samples) +
                                " samples gives " + std::to_string(all_frames_) +
                                " log-mel frames; the audio generator needs at least 4");
  front_ = register_module("front", LogMel(spec.sample_rate, spec.n_fft, spec.hop, spec.n_mels));
  inverse_ = at::linalg_pinv(mel_filterbank(spec.n_mels, spec.n_fft, spec.sample_rate));
  if (!spec.vocoder_script.empty()) {
    const std::string& path = spec.vocoder_script;
    try {
      vocoder_ = torch::jit::load(path);
    } catch (const std::exception& e) {
      throw std::invalid_argument(path + ": not a TorchScript file torch::jit::load can read: " + first_line(e.what()));
    }
    vocoder_->eval();
    for (const auto& p : vocoder_->parameters()) p.set_requires_grad(false);
    torch::NoGradGuard no_grad;
    at::Tensor wav;
    try {
      wav = vocoder_->forward({at::full({1, spec.n_mels, frames_}, kMelCentre)}).toTensor();
    } catch (const std::exception& e) {
      throw std::invalid_argument(path + ": forward(mel [1, " + std::to_string(spec.n_mels) + ", " +
                                  std::to_string(frames_) + "] natural-log mel power) failed: " + first_line(e.what()));
    }
    if (wav.dim() != 2 || wav.size(0) != 1)
      throw std::invalid_argument(path + ": forward returned shape " + c10::str(wav.sizes()) +
                                  " for mel [1, n_mels, frames]; a vocoder returns wav [1, T]");
  }
  for (auto& p : parameters()) p.set_requires_grad(false);
  eval();
}

at::Tensor MelCodec::encode(const at::Tensor& audio) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(audio.dim() == 2, "audio generation encodes [B, T] clips, got ", audio.sizes());
  const auto mel = front_(audio).narrow(2, 0, frames_);
  return ((mel - kMelCentre) / kMelScale).unsqueeze(1);
}

at::Tensor MelCodec::log_mel(const at::Tensor& mel) const { return mel.squeeze(1) * kMelScale + kMelCentre; }

at::Tensor MelCodec::decode(const at::Tensor& mel) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(mel.dim() == 4 && mel.size(1) == 1 && mel.size(2) == spec_.n_mels && mel.size(3) == frames_,
              "audio generation decodes [B, 1, ", spec_.n_mels, ", ", frames_, "] log-mels, got ", mel.sizes());
  return vocode(log_mel(mel));
}

at::Tensor MelCodec::vocode(const at::Tensor& log_mel) {
  const int64_t T = spec_.clip_samples;
  if (vocoder_) {
    auto wav = vocoder_->forward({log_mel}).toTensor().to(log_mel.dtype());
    if (wav.size(1) >= T) return wav.narrow(1, 0, T).contiguous();
    return at::constant_pad_nd(wav, {0, T - wav.size(1)});
  }
  // Mel power back to linear-frequency power (least squares, clamped to >= 0), then the phase by Griffin-Lim.
  const auto power = (log_mel.to(at::kFloat).exp() - 1e-6).clamp_min(0);
  auto magnitude = at::matmul(inverse_.to(power.device()), power).clamp_min(0).sqrt();
  // The frames cut in encode() are silence (the clip's last few milliseconds).
  magnitude = at::constant_pad_nd(magnitude, {0, all_frames_ - frames_});
  GriffinLimOptions o;
  o.n_fft = spec_.n_fft;
  o.hop = spec_.hop;
  o.iterations = spec_.griffin_lim_iterations;
  return griffin_lim(magnitude, T, o);
}

at::Tensor MelCodec::picture(const at::Tensor& mel) {
  // Normalised values from silence (-2.5) to loud (+2.5) onto dark to light; high frequencies on top.
  const auto unit = ((mel + 2.5) / 5.0).clamp(0, 1).flip({2});
  return to_model_range(unit.expand({mel.size(0), 3, mel.size(2), mel.size(3)}).contiguous());
}

void MelCodec::to(torch::Device device, bool non_blocking) {
  Autoencoder::to(device, non_blocking);
  inverse_ = inverse_.to(device);
  if (vocoder_) vocoder_->to(device, non_blocking);
}

}  // namespace imprint
