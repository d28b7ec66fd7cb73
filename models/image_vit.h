// A Vision Transformer trunk (Dosovitskiy et al. 2021) sized by config: non-overlapping model.patch x
// model.patch patches embedded to d = 4 * model.width, learned positions, model.depth pre-norm blocks
// (x + attention(LN x), x + MLP(LN x); model.heads heads, MLP 4d), a final LayerNorm; the patch tokens feed
// the conditioning head (the Perceiver-style resampler IP-Adapter-Plus puts after its ViT).
#pragma once
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "config/section.h"
#include "models/conditioning_head.h"
#include "models/encoder.h"

namespace imprint {

class VitBlockImpl : public torch::nn::Module {
 public:
  VitBlockImpl(int64_t dim, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);  // [B, N, d] -> [B, N, d]

 private:
  int64_t heads_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(VitBlock);

struct ImageVitOptions {
  int64_t depth = 2;  // model.depth: transformer blocks
  int64_t heads = 4;  // model.heads: must divide 4 x model.width
  int64_t patch = 4;  // model.patch: must divide data.image_size
};
// Its own keys (model.depth, model.heads, model.patch), declared where they are read.
const Section<ImageVitOptions>& image_vit_keys();
// Throws std::invalid_argument naming model.patch / model.heads when they do not fit the spec.
void check_image_vit(const EncoderSpec& spec, const ImageVitOptions& options);

class ImageVit final : public Encoder {
 public:
  ImageVit(const EncoderSpec& spec, const ImageVitOptions& options);
  Conditioning encode(const torch::Tensor& images) override;  // [B, 3, H, W]

 private:
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor position_;
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  ConditioningHead head_{nullptr};
};

}  // namespace imprint
