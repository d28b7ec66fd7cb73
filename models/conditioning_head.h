// What turns any trunk's features into a Conditioning: a token resampler (K learned queries cross-attend
// over the features) for the tokens, and a normalised projection of the tokens' mean for the pooled vector.
// Every encoder ends with one, so a new trunk only has to produce features [B, N, C].
#pragma once
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/encoder.h"
#include "models/token_resampler.h"

namespace imprint {

class ConditioningHeadImpl : public torch::nn::Module {
 public:
  // Tokens and width from spec (embed_dim, tokens, resampler_depth, resampler_heads).
  ConditioningHeadImpl(int64_t feature_dim, const EncoderSpec& spec);
  // features [B, N, feature_dim] -> tokens [B, K, embed_dim], pooled [B, embed_dim]
  Conditioning forward(const torch::Tensor& features);

 private:
  TokenResampler resampler_{nullptr};
  torch::nn::LayerNorm pool_norm_{nullptr};
  torch::nn::Linear pool_proj_{nullptr};
};
TORCH_MODULE(ConditioningHead);

}  // namespace imprint
