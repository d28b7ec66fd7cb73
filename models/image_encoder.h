// A small CNN over RGB images followed by a token resampler.
#pragma once
#include <torch/nn/modules/container/sequential.h>

#include "models/conditioning_head.h"
#include "models/encoder.h"

namespace imprint {

class ImageEncoder final : public Encoder {
 public:
  explicit ImageEncoder(const EncoderSpec& spec);
  // images [B, 3, H, W] -> tokens [B, K, D], pooled [B, D]
  Conditioning encode(const torch::Tensor& images) override;

 private:
  torch::nn::Sequential trunk_{nullptr};
  torch::Tensor position_;
  ConditioningHead head_{nullptr};
};

}  // namespace imprint
