#include "models/image_vit.h"

#include <torch/nn/functional/activation.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace imprint {

VitBlockImpl::VitBlockImpl(int64_t dim, int64_t heads) : heads_(heads) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  qkv_ = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  fc1_ = register_module("fc1", torch::nn::Linear(dim, 4 * dim));
  fc2_ = register_module("fc2", torch::nn::Linear(4 * dim, dim));
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x) {
  // Sizes come from unflatten/flatten, not from x.size(): the exported module is traced (any batch, any N).
  auto qkv = qkv_(norm1_(x)).unflatten(-1, {3, heads_, -1}).permute({2, 0, 3, 1, 4});  // [3, B, h, N, hd]
  const auto q = qkv[0], k = qkv[1], v = qkv[2];
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const auto attention = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1);
  const auto mixed = torch::matmul(attention, v).transpose(1, 2).flatten(2);  // [B, N, d]
  const auto h = x + proj_(mixed);
  return h + fc2_(torch::nn::functional::gelu(fc1_(norm2_(h))));
}

const Section<ImageVitOptions>& image_vit_keys() {
  using O = ImageVitOptions;
  static const auto section =
      Section<O>("model")
          .integer("depth", &O::depth, int64_t{2}, Range::closed(1, 64), "image_vit: transformer blocks.",
                   KeyRole::Shaping)
          .integer("heads", &O::heads, int64_t{4}, Range::closed(1, 64),
                   "image_vit: attention heads (must divide its width 4 x model.width).", KeyRole::Shaping)
          .integer("patch", &O::patch, int64_t{4}, Range::closed(1, 256),
                   "image_vit: patch side in pixels (must divide data.image_size).", KeyRole::Shaping);
  return section;
}

void check_image_vit(const EncoderSpec& spec, const ImageVitOptions& o) {
  if (spec.image_size % o.patch != 0)
    throw std::invalid_argument("model.patch: " + std::to_string(o.patch) + " does not divide data.image_size (" +
                                std::to_string(spec.image_size) + ")");
  if (4 * spec.width % o.heads != 0)
    throw std::invalid_argument("model.heads: " + std::to_string(o.heads) +
                                " does not divide the ViT's width, 4 x "
                                "model.width = " +
                                std::to_string(4 * spec.width));
}

ImageVit::ImageVit(const EncoderSpec& spec, const ImageVitOptions& o) {
  check_image_vit(spec, o);
  const int64_t d = 4 * spec.width;
  patch_embed_ =
      register_module("patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, d, o.patch).stride(o.patch)));
  const int64_t side = spec.image_size / o.patch;
  position_ = register_parameter("position", torch::randn({1, side * side, d}) * 0.02);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.depth; ++i) blocks_->push_back(VitBlock(d, o.heads));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  head_ = register_module("head", ConditioningHead(d, spec));
}

Conditioning ImageVit::encode(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "image_vit expects [B, 3, H, W], got ", images.sizes());
  auto x = patch_embed_(images).flatten(2).transpose(1, 2);  // [B, N, d]
  TORCH_CHECK(x.size(1) == position_.size(1), "image_vit was built for ", position_.size(1), " patches, got ",
              x.size(1), " (is data.image_size the one the model was built with?)");
  x = x + position_;
  for (const auto& block : *blocks_) x = block->as<VitBlock>()->forward(x);
  return head_(norm_(x));
}

}  // namespace imprint
