#include "models/audio_resnet34.h"

#include "models/basic_block.h"
#include "models/conv_block.h"

#include <array>

namespace imprint {

AudioResNet34::AudioResNet34(const EncoderSpec& spec) {
  const int64_t w = spec.width;
  front_ = register_module("front", LogMel(spec.sample_rate, spec.n_fft, spec.hop, spec.n_mels));
  torch::nn::Sequential stem;
  append_conv2d_block(stem, 1, w, 1);
  stem_ = register_module("stem", stem);
  torch::nn::Sequential stages;
  int64_t in = w, bins = spec.n_mels;
  const std::vector<std::array<int64_t, 3>> layout = {{3, w, 1}, {4, 2 * w, 2}, {6, 4 * w, 2}, {3, 8 * w, 2}};
  for (const auto& [blocks, width, stride] : layout) {
    for (int64_t b = 0; b < blocks; ++b) {
      stages->push_back(BasicBlock(in, width, b == 0 ? stride : 1));
      in = width;
    }
    bins = (bins + stride - 1) / stride;  // 3x3, padding 1: ceil(bins / stride)
  }
  stages_ = register_module("stages", stages);
  head_ = register_module("head", ConditioningHead(8 * w * bins, spec));
}

Conditioning AudioResNet34::encode(const torch::Tensor& audio) {
  torch::Tensor mel;
  {
    torch::NoGradGuard no_grad;  // the front end is fixed; nothing upstream needs its gradient
    mel = front_(audio);
    mel = mel - mel.mean(-1, /*keepdim=*/true);  // per-utterance, per-band mean removal (as audio_cnn)
  }
  auto f = stages_->forward(stem_->forward(mel.unsqueeze(1)));  // [B, 8w, bins, frames']
  // Channels x bins of each frame -> one feature vector per frame.
  f = with_contiguous_grad(f.flatten(1, 2)).transpose(1, 2);  // [B, frames', 8w * bins]
  return head_(f);
}

}  // namespace imprint
