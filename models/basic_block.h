// The residual basic block of ResNet (He et al. 2016), with GroupNorm instead of BatchNorm as everywhere in
// imprint (a sample's embedding must not depend on its batch or its rank). Used by image_resnet and
// audio_resnet34.
#pragma once
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

namespace imprint {

class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);  // conv-norm-GELU-conv-norm, plus the (projected) input, GELU

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};  // empty when shape and width stay
};
TORCH_MODULE(BasicBlock);

}  // namespace imprint
