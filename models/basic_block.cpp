#include "models/basic_block.h"

#include <torch/nn/functional/activation.h>

namespace imprint {

namespace {
torch::nn::GroupNorm group_norm(int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(channels % 8 == 0 ? 8 : 1, channels));
}
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}
}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
  conv1_ = register_module("conv1", conv(in, out, 3, stride));
  norm1_ = register_module("norm1", group_norm(out));
  conv2_ = register_module("conv2", conv(out, out, 3, 1));
  norm2_ = register_module("norm2", group_norm(out));
  shortcut_ = register_module("shortcut", torch::nn::Sequential());
  if (stride != 1 || in != out) {
    shortcut_->push_back(conv(in, out, 1, stride));
    shortcut_->push_back(group_norm(out));
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::nn::functional::gelu(norm1_(conv1_(x)));
  y = norm2_(conv2_(y));
  return torch::nn::functional::gelu(y + (shortcut_->is_empty() ? x : shortcut_->forward(x)));
}

}  // namespace imprint
