// Turns a variable number of feature vectors (image positions, audio frames) into exactly K tokens:
// K learned queries cross-attend over the features (Perceiver / IP-Adapter style resampler), then each of
// depth - 1 further blocks lets the tokens query the features again (IP-Adapter-Plus uses depth 4).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace imprint {

// One further block: pre-norm tokens become queries over the (normalised) features; residual attention and
// MLP.
class ResamplerBlockImpl : public torch::nn::Module {
 public:
  ResamplerBlockImpl(int64_t in_dim, int64_t dim, int64_t heads);
  // tokens [B, K, dim], normalised features [B, N, in_dim] -> tokens [B, K, dim]
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& features);

 private:
  int64_t heads_;
  torch::nn::LayerNorm norm_q_{nullptr}, norm_out_{nullptr};
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, proj_{nullptr}, mlp1_{nullptr}, mlp2_{nullptr};
};
TORCH_MODULE(ResamplerBlock);

class TokenResamplerImpl : public torch::nn::Module {
 public:
  // heads must divide dim (the config checks it; a direct caller with one that does not gets one head).
  TokenResamplerImpl(int64_t in_dim, int64_t dim, int64_t tokens, int64_t heads = 4, int64_t depth = 1);
  // features [B, N, in_dim] -> tokens [B, K, dim]
  torch::Tensor forward(const torch::Tensor& features);

 private:
  int64_t dim_, heads_;
  torch::Tensor queries_;
  // The first block keeps its original parameter names (checkpoints from before model.resampler_depth load).
  torch::nn::LayerNorm norm_in_{nullptr}, norm_out_{nullptr};
  torch::nn::Linear to_k_{nullptr}, to_v_{nullptr}, proj_{nullptr}, mlp1_{nullptr}, mlp2_{nullptr};
  std::vector<ResamplerBlock> blocks_;  // "block1", "block2", ...
};
TORCH_MODULE(TokenResampler);

}  // namespace imprint
