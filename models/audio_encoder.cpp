#include "models/audio_encoder.h"

#include "models/conv_block.h"

namespace imprint {

AudioEncoder::AudioEncoder(const EncoderSpec& spec) {
  const int64_t w = spec.width;
  front_ = register_module("front", LogMel(spec.sample_rate, spec.n_fft, spec.hop, spec.n_mels));
  torch::nn::Sequential trunk;
  append_conv1d_block(trunk, spec.n_mels, 2 * w, 5, 1);
  append_conv1d_block(trunk, 2 * w, 4 * w, 3, 2);
  append_conv1d_block(trunk, 4 * w, 4 * w, 3, 1);
  trunk_ = register_module("trunk", trunk);
  head_ = register_module("head", ConditioningHead(4 * w, spec));
}

Conditioning AudioEncoder::encode(const torch::Tensor& audio) {
  torch::Tensor mel;
  {
    torch::NoGradGuard no_grad;  // the front end is fixed; nothing upstream needs its gradient
    mel = front_(audio);
    // Per-utterance, per-band mean removal: loudness and channel colouring are not identity.
    mel = mel - mel.mean(-1, /*keepdim=*/true);
  }
  auto f = with_contiguous_grad(trunk_->forward(mel)).transpose(1, 2);  // [B, frames', 4w]
  return head_(f);
}

}  // namespace imprint
