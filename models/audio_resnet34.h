// A thin ResNet34 speaker trunk on log-mel features, as WeSpeaker and 3D-Speaker train it: the spectrogram
// is a one-channel image [B, 1, mels, frames]; a 3x3 stem and four stages of 3, 4, 6, 3 basic blocks with
// widths w, 2w, 4w, 8w (w = model.width), the last three halving frequency and time; each remaining frame's
// channels x frequency bins become one feature vector for the conditioning head, whose resampler attends
// over frames (the attentive pooling). GroupNorm for BatchNorm (batch independence).
#pragma once
#include <torch/nn/modules/container/sequential.h>

#include "models/conditioning_head.h"
#include "models/encoder.h"
#include "models/log_mel.h"

namespace imprint {

class AudioResNet34 final : public Encoder {
 public:
  explicit AudioResNet34(const EncoderSpec& spec);
  // audio [B, T] -> tokens [B, K, D], pooled [B, D]
  Conditioning encode(const torch::Tensor& audio) override;

 private:
  LogMel front_{nullptr};
  torch::nn::Sequential stem_{nullptr}, stages_{nullptr};
  ConditioningHead head_{nullptr};
};

}  // namespace imprint
