// Turns a variable number of feature vectors (image positions, audio frames) into exactly K tokens:
// K learned queries cross-attend over the features (Perceiver / IP-Adapter style resampler), then each of
// depth - 1 further blocks lets the tokens query the features again (IP-Adapter-Plus uses depth 4).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace imprint {

// What every resampler block has: key and value projections of the features, the attention's output
// projection and a pre-norm residual MLP, registered on the block that owns them under these names (so the
// first block's parameters keep the names checkpoints from before model.resampler_depth hold).
struct CrossAttentionLayers {
  torch::nn::Linear to_k{nullptr}, to_v{nullptr}, proj{nullptr}, mlp1{nullptr}, mlp2{nullptr};
  torch::nn::LayerNorm norm_out{nullptr};
  CrossAttentionLayers() = default;
  CrossAttentionLayers(torch::nn::Module& owner, int64_t in_dim, int64_t dim);
  // tokens [B|1, K, dim] + proj(attention of queries q over features [B, N, in_dim]), then + MLP(norm(.))
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& q, const torch::Tensor& features,
                        int64_t heads);
};

// One further block: pre-norm tokens become queries over the (normalised) features; residual attention and
// MLP.
class ResamplerBlockImpl : public torch::nn::Module {
 public:
  ResamplerBlockImpl(int64_t in_dim, int64_t dim, int64_t heads);
  // tokens [B, K, dim], normalised features [B, N, in_dim] -> tokens [B, K, dim]
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& features);

 private:
  int64_t heads_;
  torch::nn::LayerNorm norm_q_{nullptr};
  torch::nn::Linear to_q_{nullptr};
  CrossAttentionLayers layers_;
};
TORCH_MODULE(ResamplerBlock);

class TokenResamplerImpl : public torch::nn::Module {
 public:
  // heads must divide dim (the config checks it; a direct caller with one that does not gets one head).
  TokenResamplerImpl(int64_t in_dim, int64_t dim, int64_t tokens, int64_t heads = 4, int64_t depth = 1);
  // features [B, N, in_dim] -> tokens [B, K, dim]
  torch::Tensor forward(const torch::Tensor& features);

 private:
  int64_t heads_;
  torch::Tensor queries_;
  torch::nn::LayerNorm norm_in_{nullptr};
  CrossAttentionLayers layers_;         // the first block's, registered on this module
  std::vector<ResamplerBlock> blocks_;  // "block1", "block2", ...
};
TORCH_MODULE(TokenResampler);

}  // namespace imprint
