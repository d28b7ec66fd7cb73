#include "models/conv_block.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

namespace imprint {
namespace {
int64_t groups_for(int64_t channels) { return channels % 8 == 0 ? 8 : 1; }
}  // namespace

torch::Tensor with_contiguous_grad(const torch::Tensor& trunk_output) {
  if (trunk_output.requires_grad()) trunk_output.register_hook([](const torch::Tensor& g) { return g.contiguous(); });
  return trunk_output;
}

void append_conv2d_block(torch::nn::Sequential& trunk, int64_t in, int64_t out, int64_t stride) {
  trunk->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  trunk->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups_for(out), out)));
  trunk->push_back(torch::nn::GELU());
}

void append_conv1d_block(torch::nn::Sequential& trunk, int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  trunk->push_back(
      torch::nn::Conv1d(torch::nn::Conv1dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)));
  trunk->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups_for(out), out)));
  trunk->push_back(torch::nn::GELU());
}

}  // namespace imprint
