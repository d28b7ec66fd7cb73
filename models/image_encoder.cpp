#include "models/image_encoder.h"

#include "models/conv_block.h"

namespace imprint {

ImageEncoder::ImageEncoder(const EncoderSpec& spec) {
  const int64_t w = spec.width;
  torch::nn::Sequential trunk;
  append_conv2d_block(trunk, 3, w, 1);
  append_conv2d_block(trunk, w, 2 * w, 2);
  append_conv2d_block(trunk, 2 * w, 4 * w, 2);
  append_conv2d_block(trunk, 4 * w, 4 * w, 1);
  trunk_ = register_module("trunk", trunk);
  const int64_t side = (spec.image_size + 3) / 4;
  position_ = register_parameter("position", torch::randn({1, side * side, 4 * w}) * 0.02);
  head_ = register_module("head", ConditioningHead(4 * w, spec));
}

Conditioning ImageEncoder::encode(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "image encoder expects [B, 3, H, W], got ", images.sizes());
  auto f = with_contiguous_grad(trunk_->forward(images));  // [B, 4w, h, w]
  f = f.flatten(2).transpose(1, 2);                        // [B, h*w, 4w]
  TORCH_CHECK(f.size(1) == position_.size(1), "image encoder was built for ", position_.size(1),
              " feature positions, got ", f.size(1), " (is data.image_size the one the model was built with?)");
  return head_(f + position_);
}

}  // namespace imprint
