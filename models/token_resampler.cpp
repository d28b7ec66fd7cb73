#include "models/token_resampler.h"

#include <torch/nn/functional/activation.h>

#include <cmath>

namespace imprint {

namespace F = torch::nn::functional;

namespace {
// Multi-head attention of q [B|1, K, dim] over k, v [B, N, dim] -> [B, K, dim]. No batch or length sizes
// appear (unflatten/flatten, broadcasting instead of expand): a traced export (imprint export) then works for
// any batch size and clip length.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads) {
  const int64_t hd = q.size(-1) / heads;
  auto qh = q.unflatten(-1, {heads, hd}).transpose(1, 2);  // [B,h,K,hd]
  auto kh = k.unflatten(-1, {heads, hd}).transpose(1, 2);  // [B,h,N,hd]
  auto vh = v.unflatten(-1, {heads, hd}).transpose(1, 2);
  auto attn = torch::softmax(torch::matmul(qh, kh.transpose(-2, -1)) / std::sqrt(double(hd)), -1);
  return torch::matmul(attn, vh).transpose(1, 2).flatten(2);
}
}  // namespace

CrossAttentionLayers::CrossAttentionLayers(torch::nn::Module& owner, int64_t in_dim, int64_t dim) {
  // No key bias: softmax over keys is invariant to it (q.(k+b) shifts every logit of a query equally), so its
  // gradient is zero up to rounding noise, which Adam would amplify into random updates.
  to_k = owner.register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(in_dim, dim).bias(false)));
  to_v = owner.register_module("to_v", torch::nn::Linear(in_dim, dim));
  proj = owner.register_module("proj", torch::nn::Linear(dim, dim));
  norm_out = owner.register_module("norm_out", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp1 = owner.register_module("mlp1", torch::nn::Linear(dim, 2 * dim));
  mlp2 = owner.register_module("mlp2", torch::nn::Linear(2 * dim, dim));
}

torch::Tensor CrossAttentionLayers::forward(const torch::Tensor& tokens, const torch::Tensor& q,
                                            const torch::Tensor& features, int64_t heads) {
  auto t = tokens + proj(attend(q, to_k(features), to_v(features), heads));
  return t + mlp2(F::gelu(mlp1(norm_out(t))));
}

ResamplerBlockImpl::ResamplerBlockImpl(int64_t in_dim, int64_t dim, int64_t heads) : heads_(heads) {
  norm_q_ = register_module("norm_q", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  to_q_ = register_module("to_q", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(false)));
  layers_ = CrossAttentionLayers(*this, in_dim, dim);
}

torch::Tensor ResamplerBlockImpl::forward(const torch::Tensor& tokens, const torch::Tensor& features) {
  return layers_.forward(tokens, to_q_(norm_q_(tokens)), features, heads_);
}

TokenResamplerImpl::TokenResamplerImpl(int64_t in_dim, int64_t dim, int64_t tokens, int64_t heads, int64_t depth)
    : heads_(dim % heads == 0 ? heads : 1) {
  queries_ = register_parameter("queries", torch::randn({tokens, dim}) * 0.02);
  norm_in_ = register_module("norm_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in_dim})));
  layers_ = CrossAttentionLayers(*this, in_dim, dim);
  for (int64_t b = 1; b < depth; ++b)
    blocks_.push_back(register_module("block" + std::to_string(b), ResamplerBlock(in_dim, dim, heads_)));
}

torch::Tensor TokenResamplerImpl::forward(const torch::Tensor& features) {
  const auto x = norm_in_(features);
  const auto q = queries_.unsqueeze(0);       // the learned queries are the first block's tokens and queries
  auto t = layers_.forward(q, q, x, heads_);  // [B, K, dim]
  for (auto& block : blocks_) t = block->forward(t, x);
  return t;
}

}  // namespace imprint
