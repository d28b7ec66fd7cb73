#include "models/image_resnet.h"

#include "models/conv_block.h"

namespace imprint {

const Section<ImageResNetOptions>& image_resnet_keys() {
  static const auto section = Section<ImageResNetOptions>("model").integer(
      "depth", &ImageResNetOptions::depth, int64_t{2}, Range::closed(1, 64),
      "image_resnet: residual blocks per stage (3 stages).", KeyRole::Shaping);
  return section;
}

ImageResNet::ImageResNet(const EncoderSpec& spec, const ImageResNetOptions& options) {
  const int64_t w = spec.width;
  torch::nn::Sequential stem;
  append_conv2d_block(stem, 3, w, 1);
  stem_ = register_module("stem", stem);
  torch::nn::Sequential stages;
  int64_t in = w;
  for (const auto& [width, stride] : std::vector<std::pair<int64_t, int64_t>>{{w, 1}, {2 * w, 2}, {4 * w, 2}})
    for (int64_t b = 0; b < options.depth; ++b) {
      stages->push_back(BasicBlock(in, width, b == 0 ? stride : 1));
      in = width;
    }
  stages_ = register_module("stages", stages);
  const int64_t side = (spec.image_size + 3) / 4;
  position_ = register_parameter("position", torch::randn({1, side * side, 4 * w}) * 0.02);
  head_ = register_module("head", ConditioningHead(4 * w, spec));
}

Conditioning ImageResNet::encode(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "image_resnet expects [B, 3, H, W], got ", images.sizes());
  auto f = with_contiguous_grad(stages_->forward(stem_->forward(images)));  // [B, 4w, h, w]
  f = f.flatten(2).transpose(1, 2);                                         // [B, h*w, 4w]
  TORCH_CHECK(f.size(1) == position_.size(1), "image_resnet was built for ", position_.size(1),
              " feature positions, got ", f.size(1), " (is data.image_size the one the model was built with?)");
  return head_(f + position_);
}

}  // namespace imprint
