// ECAPA-TDNN (Desplanques et al., Interspeech 2020), the speaker trunk of WeSpeaker and 3D-Speaker, sized by
// model.width (channels C = 8 * width): log-mel front end; a conv1d layer; three SE-Res2Blocks (1x1 conv,
// Res2Net dilated convs over 4 channel groups with dilation 2, 3, 4, 1x1 conv, squeeze-excitation, residual);
// multi-layer feature aggregation (the three blocks' outputs concatenated, 1x1 conv to 3C); attentive
// statistics pooling (per-channel attention over frames -> weighted mean and standard deviation).
//
// imprint differences: GroupNorm instead of BatchNorm (a sample's embedding must not depend on its batch or
// on how the global batch is split over ranks), and the conditioning head reads the aggregated frames AND the
// pooled statistics (projected to 3C, one extra token) so K identity tokens can attend over time.
#pragma once
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/conditioning_head.h"
#include "models/encoder.h"
#include "models/log_mel.h"

namespace imprint {

class SeRes2BlockImpl : public torch::nn::Module {
 public:
  SeRes2BlockImpl(int64_t channels, int64_t dilation, int64_t scale = 4);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, T] -> [B, C, T]

 private:
  int64_t scale_;
  torch::nn::Sequential in_{nullptr}, out_{nullptr};
  torch::nn::ModuleList res2_{nullptr};
  torch::nn::Linear se_down_{nullptr}, se_up_{nullptr};
};
TORCH_MODULE(SeRes2Block);

class EcapaTdnn final : public Encoder {
 public:
  explicit EcapaTdnn(const EncoderSpec& spec);
  // audio [B, T] -> tokens [B, K, D], pooled [B, D]
  Conditioning encode(const torch::Tensor& audio) override;

 private:
  LogMel front_{nullptr};
  torch::nn::Sequential stem_{nullptr}, aggregate_{nullptr}, attention_{nullptr};
  SeRes2Block b1_{nullptr}, b2_{nullptr}, b3_{nullptr};
  torch::nn::Linear stats_{nullptr};
  ConditioningHead head_{nullptr};
};

}  // namespace imprint
