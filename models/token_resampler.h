// Turns a variable number of feature vectors (image positions, audio frames) into exactly K tokens:
// K learned queries cross-attend over the features (Perceiver / IP-Adapter style resampler).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace imprint {

class TokenResamplerImpl : public torch::nn::Module {
 public:
  TokenResamplerImpl(int64_t in_dim, int64_t dim, int64_t tokens, int64_t heads = 4);
  // features [B, N, in_dim] -> tokens [B, K, dim]
  torch::Tensor forward(const torch::Tensor& features);

 private:
  int64_t dim_, heads_;
  torch::Tensor queries_;
  torch::nn::LayerNorm norm_in_{nullptr}, norm_out_{nullptr};
  torch::nn::Linear to_k_{nullptr}, to_v_{nullptr}, proj_{nullptr}, mlp1_{nullptr}, mlp2_{nullptr};
};
TORCH_MODULE(TokenResampler);

}  // namespace imprint
