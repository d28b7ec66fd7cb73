// A ResNet image trunk (He et al. 2016, basic blocks) sized by config: three stages of model.depth residual
// blocks each, widths w, 2w, 4w (w = model.width), the last two stages halving the resolution; the feature
// map feeds the conditioning head as h*w feature vectors with learned positions. GroupNorm instead of
// BatchNorm, as everywhere in imprint (a sample's embedding must not depend on its batch or its rank).
#pragma once
#include <torch/nn/modules/container/sequential.h>

#include "config/section.h"
#include "models/basic_block.h"
#include "models/conditioning_head.h"
#include "models/encoder.h"

namespace imprint {

struct ImageResNetOptions {
  int64_t depth = 2;  // model.depth: basic blocks per stage
};
// Its own key (model.depth), declared where it is read.
const Section<ImageResNetOptions>& image_resnet_keys();

class ImageResNet final : public Encoder {
 public:
  ImageResNet(const EncoderSpec& spec, const ImageResNetOptions& options);
  Conditioning encode(const torch::Tensor& images) override;  // [B, 3, H, W]

 private:
  torch::nn::Sequential stem_{nullptr}, stages_{nullptr};
  torch::Tensor position_;
  ConditioningHead head_{nullptr};
};

}  // namespace imprint
