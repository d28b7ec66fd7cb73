#include "models/token_resampler.h"

#include <torch/nn/functional/activation.h>

#include <cmath>

namespace imprint {

namespace F = torch::nn::functional;

TokenResamplerImpl::TokenResamplerImpl(int64_t in_dim, int64_t dim, int64_t tokens, int64_t heads)
    : dim_(dim), heads_(dim % heads == 0 ? heads : 1) {
  queries_ = register_parameter("queries", torch::randn({tokens, dim}) * 0.02);
  norm_in_ = register_module("norm_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in_dim})));
  // No key bias: softmax over keys is invariant to it (q.(k+b) shifts every logit of a query equally), so its
  // gradient is zero up to rounding noise, which Adam would amplify into random updates.
  to_k_ = register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(in_dim, dim).bias(false)));
  to_v_ = register_module("to_v", torch::nn::Linear(in_dim, dim));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  norm_out_ = register_module("norm_out", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp1_ = register_module("mlp1", torch::nn::Linear(dim, 2 * dim));
  mlp2_ = register_module("mlp2", torch::nn::Linear(2 * dim, dim));
}

torch::Tensor TokenResamplerImpl::forward(const torch::Tensor& features) {
  // No batch or length sizes appear below (unflatten/flatten, broadcasting instead of expand): a traced
  // export (imprint export) then works for any batch size and clip length.
  const int64_t K = queries_.size(0), hd = dim_ / heads_;
  auto x = norm_in_(features);
  auto k = to_k_(x).unflatten(-1, {heads_, hd}).transpose(1, 2);               // [B,h,N,hd]
  auto v = to_v_(x).unflatten(-1, {heads_, hd}).transpose(1, 2);               // [B,h,N,hd]
  auto q = queries_.view({1, K, heads_, hd}).transpose(1, 2);                   // [1,h,K,hd]
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(hd)), -1);
  auto t = torch::matmul(attn, v).transpose(1, 2).flatten(2);                   // [B,K,dim]
  t = queries_.unsqueeze(0) + proj_(t);
  return t + mlp2_(F::gelu(mlp1_(norm_out_(t))));
}

}  // namespace imprint
