#include "models/conditioning_head.h"

namespace imprint {

ConditioningHeadImpl::ConditioningHeadImpl(int64_t feature_dim, const EncoderSpec& spec) {
  const int64_t embed_dim = spec.embed_dim;
  resampler_ = register_module(
      "resampler", TokenResampler(feature_dim, embed_dim, spec.tokens, spec.resampler_heads, spec.resampler_depth));
  pool_norm_ = register_module("pool_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embed_dim})));
  pool_proj_ = register_module("pool_proj", torch::nn::Linear(embed_dim, embed_dim));
}

Conditioning ConditioningHeadImpl::forward(const torch::Tensor& features) {
  auto tokens = resampler_(features);
  auto pooled = pool_proj_(pool_norm_(tokens.mean(1)));
  return {tokens, pooled};
}

}  // namespace imprint
