// A small diffusion UNet for images or a frozen autoencoder's latents (any channel count), conditioned on the
// timestep and the content (added to every residual block) and on identity tokens through DECOUPLED
// cross-attention, as in IP-Adapter: each attention block attends to the content tokens with its own
// to_k/to_v and, separately, to the identity tokens with adapter_k/adapter_v (initialised from to_k/to_v),
// and adds the two results, the identity one scaled by id_scale. Names holding "adapter" are the identity
// branch: everything adapter training updates.
//
// Content is either a label (an embedding added to every block, and 4 learned content tokens per label the
// attention reads) or a given token sequence [B, L, Dc] (a text encoder's output: the attention reads it,
// and its mean, projected, is added to every block, as SDXL adds its pooled text embedding).
//
// Levels: width w at full resolution, 2w at 1/2 and 1/4 (attention at 1/2, 1/4 and the middle). The image
// side must be a multiple of 4. An audio generator would swap the 2-D convolutions for 1-D ones over log-mel
// frames and keep the blocks' interfaces.
#pragma once
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "generation/generator.h"

namespace imprint {

// GroupNorm -> SiLU -> conv, twice, with the conditioning vector added in between, and a skip projection.
class UnetResBlockImpl : public torch::nn::Module {
 public:
  UnetResBlockImpl(int64_t in, int64_t out, int64_t cond_dim);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cond);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
  torch::nn::Linear cond_{nullptr};
};
TORCH_MODULE(UnetResBlock);

// Pre-norm cross-attention of the feature map to content tokens, plus the decoupled identity branch.
class DecoupledCrossAttentionImpl : public torch::nn::Module {
 public:
  DecoupledCrossAttentionImpl(int64_t channels, int64_t context_dim, int64_t id_dim, int64_t heads);
  // With `scale_tensor` defined (0-dim), the identity branch is always computed and multiplied by it instead of
  // id_scale: what a trace records as an input (ConditionalUnet::predict_scaled).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& id_tokens,
                        double id_scale, const torch::Tensor& scale_tensor = {});
  void init_adapter_from_content();

 private:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) const;
  int64_t heads_;
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, adapter_k_{nullptr}, adapter_v_{nullptr},
      to_out_{nullptr};
};
TORCH_MODULE(DecoupledCrossAttention);

class ConditionalUnet : public Generator {
 public:
  explicit ConditionalUnet(const GeneratorSpec& spec);
  torch::Tensor predict(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                        const torch::Tensor& id_tokens, double id_scale) override;
  bool is_adapter_parameter(const std::string& name) const override;
  void init_adapter_from_content() override;
  // predict with the identity scale as a 0-dim tensor, so a trace of it takes the scale as an input (the
  // TorchScript export of this generator: trainer/inference/generator_export.h).
  torch::Tensor predict_scaled(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                               const torch::Tensor& id_tokens, const torch::Tensor& id_scale);
  const GeneratorSpec& spec() const { return spec_; }

 private:
  torch::Tensor predict_impl(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                             const torch::Tensor& id_tokens, double id_scale, const torch::Tensor& scale_tensor);
  GeneratorSpec spec_;
  int64_t cond_dim_;
  static constexpr int64_t kContextTokens = 4;
  torch::nn::Linear time1_{nullptr}, time2_{nullptr};
  torch::nn::Embedding content_{nullptr}, context_{nullptr};  // content labels
  torch::nn::Linear content_pool_{nullptr};                   // content tokens
  torch::nn::Conv2d in_{nullptr}, down1_{nullptr}, down2_{nullptr}, out_{nullptr};
  UnetResBlock enc0_{nullptr}, enc1_{nullptr}, enc2_{nullptr}, mid1_{nullptr}, mid2_{nullptr}, dec2_{nullptr},
      dec1_{nullptr}, dec0_{nullptr};
  DecoupledCrossAttention att1_{nullptr}, att2_{nullptr}, att_mid_{nullptr}, att_dec2_{nullptr}, att_dec1_{nullptr};
  torch::nn::Conv2d up2_{nullptr}, up1_{nullptr};
  torch::nn::GroupNorm out_norm_{nullptr};
};

}  // namespace imprint
