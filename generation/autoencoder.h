// A FROZEN autoencoder for latent diffusion (Rombach et al. 2022): the generator denoises encode(x) instead of
// pixels, and samples are decode(z). Two kinds:
//   KlAutoencoder        imprint's own, trained by the autoencoder objective (trainer/objectives/
//                        autoencoder.h) and loaded from that run's checkpoint (objective.denoise.autoencoder_from);
//   ScriptedAutoencoder  a user's TorchScript file (objective.denoise.autoencoder_script) with methods
//                        encode(x) -> z and decode(z) -> x, pixels in [-1, 1] (diffusers' AutoencoderKL
//                        convention) and an optional float attribute scale_factor (SD 1.5's VAE: 0.18215).
// Both take and give images in imprint's model range (core/pixels.h) and latents scaled to about unit variance
// (what the noise schedule assumes). Neither trains here: no gradient, out of the optimizer, the reducer and
// checkpoints (a run records the file's path and content hash).
#pragma once
#include <torch/csrc/jit/api/module.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <vector>

#include "config/section.h"

namespace imprint {

class Autoencoder : public torch::nn::Module {
 public:
  // x [B, 3, S, S] in the model range -> z [B, C, S/f, S/f], scaled to about unit variance.
  virtual at::Tensor encode(const at::Tensor& x) = 0;
  // z as encode() gives it -> x [B, 3, S, S] in the model range.
  virtual at::Tensor decode(const at::Tensor& z) = 0;
  // The latent shape [C, h, w] of an image of side `image_size`.
  virtual std::vector<int64_t> latent_shape(int64_t image_size) const = 0;
};

// imprint's own: a small convolutional KL-regularised autoencoder (the shape of Stable Diffusion's VAE, much
// narrower): per 2x downsampling stage a residual block and a stride-2 convolution, a middle block, and a
// convolution to the posterior's mean and log-variance of `latent_channels` channels; the decoder mirrors it
// with nearest-neighbour 2x upsampling.
struct AutoencoderSpec {
  int64_t latent_channels = 4;
  int64_t downsample = 4;  // 4 or 8: 2 or 3 stages
  int64_t width = 32;      // channels of the full-resolution stage; each further stage has twice as many
  double kl_weight = 1e-6;
};
const Section<AutoencoderSpec>& autoencoder_section();  // objective.autoencoder.*

class AeResBlockImpl : public torch::nn::Module {
 public:
  AeResBlockImpl(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
};
TORCH_MODULE(AeResBlock);

class KlAutoencoder final : public Autoencoder {
 public:
  explicit KlAutoencoder(const AutoencoderSpec& spec);
  // The posterior's mean and log-variance (unscaled latents) of x.
  std::pair<at::Tensor, at::Tensor> posterior(const at::Tensor& x);
  // Unscaled latents -> the model range.
  at::Tensor reconstruct(const at::Tensor& z);
  // The frozen use: latents divided by `latent_std` (the objective's running estimate, set when loaded).
  at::Tensor encode(const at::Tensor& x) override;
  at::Tensor decode(const at::Tensor& z) override;
  std::vector<int64_t> latent_shape(int64_t image_size) const override;
  void set_latent_std(double std) { latent_std_ = std; }
  double latent_std() const { return latent_std_; }
  const AutoencoderSpec& spec() const { return spec_; }

 private:
  AutoencoderSpec spec_;
  double latent_std_ = 1.0;
  torch::nn::Conv2d enc_in_{nullptr}, enc_out_{nullptr}, dec_in_{nullptr}, dec_out_{nullptr};
  torch::nn::ModuleList enc_blocks_{nullptr}, downs_{nullptr}, dec_blocks_{nullptr}, ups_{nullptr};
  AeResBlock enc_mid_{nullptr}, dec_mid_{nullptr};
  torch::nn::GroupNorm enc_norm_{nullptr}, dec_norm_{nullptr};
};

class ScriptedAutoencoder final : public Autoencoder {
 public:
  // Loads `path` and checks it with one encode and one decode of an image of side `image_size`; throws
  // std::invalid_argument naming the file and what it lacks (a method, the shapes it returned).
  ScriptedAutoencoder(const std::string& path, int64_t image_size);
  at::Tensor encode(const at::Tensor& x) override;
  at::Tensor decode(const at::Tensor& z) override;
  std::vector<int64_t> latent_shape(int64_t image_size) const override;
  using Autoencoder::to;
  void to(torch::Device device, bool non_blocking = false) override;
  double scale_factor() const { return scale_; }

 private:
  torch::jit::Module module_;
  double scale_ = 1.0;
  std::vector<int64_t> latent_;  // [C, h, w] for the checked image side
  int64_t image_size_;
};

}  // namespace imprint
