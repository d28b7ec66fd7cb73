// Log-mel front end, a small 1-D conv net over time, then a token resampler.
#pragma once
#include <torch/nn/modules/container/sequential.h>

#include "models/conditioning_head.h"
#include "models/encoder.h"
#include "models/log_mel.h"

namespace imprint {

class AudioEncoder final : public Encoder {
 public:
  explicit AudioEncoder(const EncoderSpec& spec);
  // audio [B, T] -> tokens [B, K, D], pooled [B, D]
  Conditioning encode(const torch::Tensor& audio) override;

 private:
  LogMel front_{nullptr};
  torch::nn::Sequential trunk_{nullptr};
  ConditioningHead head_{nullptr};
};

}  // namespace imprint
