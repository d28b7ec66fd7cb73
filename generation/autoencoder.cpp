#include "generation/autoencoder.h"

#include <torch/csrc/jit/serialization/import.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/upsampling.h>

#include <stdexcept>

#include "core/text.h"

namespace imprint {

namespace F = torch::nn::functional;

namespace {

int64_t groups_for(int64_t channels) { return channels % 8 == 0 ? 8 : 1; }

torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

torch::nn::GroupNorm group_norm(int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups_for(channels), channels));
}

int64_t stages_of(int64_t downsample) { return downsample == 8 ? 3 : 2; }

}  // namespace

const Section<AutoencoderSpec>& autoencoder_section() {
  using A = AutoencoderSpec;
  static const auto section =
      Section<A>("objective.autoencoder")
          .integer("latent_channels", &A::latent_channels, int64_t{4}, Range::closed(1, 64),
                   "Channels C of the latents [C, S/f, S/f] it encodes an image of side S to.", KeyRole::Shaping)
          .choice("downsample", &A::downsample, {{"4", int64_t{4}}, {"8", int64_t{8}}}, int64_t{4},
                  "Spatial downsampling factor f of the latents: 4 (two stride-2 stages) or 8 (three).",
                  KeyRole::Shaping)
          .integer("width", &A::width, int64_t{32}, Range::closed(8, 1024),
                   "Channels of its full-resolution stage; each further stage has twice as many.", KeyRole::Shaping)
          .real("kl_weight", &A::kl_weight, 1e-6, Range::closed(0, 1),
                "Weight of the KL divergence of the latent posterior from N(0, I) beside the reconstruction's mean "
                "squared error (Stable Diffusion's VAE: 1e-6); it keeps the latents near a Gaussian the "
                "generator's noise schedule suits.");
  return section;
}

AeResBlockImpl::AeResBlockImpl(int64_t in, int64_t out) {
  norm1_ = register_module("norm1", group_norm(in));
  conv1_ = register_module("conv1", conv3(in, out));
  norm2_ = register_module("norm2", group_norm(out));
  conv2_ = register_module("conv2", conv3(out, out));
  if (in != out) skip_ = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
}

at::Tensor AeResBlockImpl::forward(const at::Tensor& x) {
  auto h = conv1_(F::silu(norm1_(x)));
  h = conv2_(F::silu(norm2_(h)));
  return (skip_ ? skip_(x) : x) + h;
}

KlAutoencoder::KlAutoencoder(const AutoencoderSpec& spec) : spec_(spec) {
  if (spec.downsample != 4 && spec.downsample != 8)
    throw std::invalid_argument("autoencoder: downsample must be 4 or 8, got " + std::to_string(spec.downsample));
  const int64_t stages = stages_of(spec.downsample), w = spec.width;
  enc_in_ = register_module("enc_in", conv3(3, w));
  enc_blocks_ = register_module("enc_blocks", torch::nn::ModuleList());
  downs_ = register_module("downs", torch::nn::ModuleList());
  int64_t c = w;
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t next = w << (s + 1 < stages ? s + 1 : s);  // w, 2w, 4w ... capped at the last stage's width
    enc_blocks_->push_back(AeResBlock(c, c));
    downs_->push_back(conv3(c, next, 2));
    c = next;
  }
  enc_mid_ = register_module("enc_mid", AeResBlock(c, c));
  enc_norm_ = register_module("enc_norm", group_norm(c));
  enc_out_ = register_module("enc_out", conv3(c, 2 * spec.latent_channels));
  dec_in_ = register_module("dec_in", conv3(spec.latent_channels, c));
  dec_mid_ = register_module("dec_mid", AeResBlock(c, c));
  dec_blocks_ = register_module("dec_blocks", torch::nn::ModuleList());
  ups_ = register_module("ups", torch::nn::ModuleList());
  for (int64_t s = stages; s-- > 0;) {
    const int64_t next = w << s;
    ups_->push_back(conv3(c, next));
    dec_blocks_->push_back(AeResBlock(next, next));
    c = next;
  }
  dec_norm_ = register_module("dec_norm", group_norm(c));
  dec_out_ = register_module("dec_out", conv3(c, 3));
}

std::pair<at::Tensor, at::Tensor> KlAutoencoder::posterior(const at::Tensor& x) {
  auto h = enc_in_(x);
  for (size_t s = 0; s < downs_->size(); ++s) {
    h = enc_blocks_[s]->as<AeResBlock>()->forward(h);
    h = downs_[s]->as<torch::nn::Conv2d>()->forward(h);
  }
  h = enc_out_(F::silu(enc_norm_(enc_mid_(h))));
  auto parts = h.chunk(2, 1);
  return {parts[0], parts[1].clamp(-30.0, 20.0)};  // as SD's DiagonalGaussianDistribution
}

at::Tensor KlAutoencoder::reconstruct(const at::Tensor& z) {
  auto h = dec_mid_(dec_in_(z));
  for (size_t s = 0; s < ups_->size(); ++s) {
    h = F::interpolate(h,
                       F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
    h = ups_[s]->as<torch::nn::Conv2d>()->forward(h);
    h = dec_blocks_[s]->as<AeResBlock>()->forward(h);
  }
  return dec_out_(F::silu(dec_norm_(h)));
}

at::Tensor KlAutoencoder::encode(const at::Tensor& x) { return posterior(x).first / latent_std_; }

at::Tensor KlAutoencoder::decode(const at::Tensor& z) { return reconstruct(z * latent_std_); }

std::vector<int64_t> KlAutoencoder::latent_shape(int64_t image_size) const {
  return {spec_.latent_channels, image_size / spec_.downsample, image_size / spec_.downsample};
}

ScriptedAutoencoder::ScriptedAutoencoder(const std::string& path, int64_t image_size) : image_size_(image_size) {
  try {
    module_ = torch::jit::load(path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": not a TorchScript file torch::jit::load can read: " + first_line(e.what()));
  }
  for (const char* method : {"encode", "decode"})
    if (!module_.find_method(method))
      throw std::invalid_argument(path + ": the TorchScript module has no " + method +
                                  " method (an autoencoder needs encode(x) -> z and decode(z) -> x)");
  if (module_.hasattr("scale_factor")) {
    const auto v = module_.attr("scale_factor");
    if (!v.isDouble() && !v.isInt()) throw std::invalid_argument(path + ": its scale_factor attribute is not a number");
    scale_ = v.isDouble() ? v.toDouble() : static_cast<double>(v.toInt());
    if (!(scale_ > 0)) throw std::invalid_argument(path + ": its scale_factor must be above 0");
  }
  module_.eval();
  for (const auto& p : module_.parameters()) p.set_requires_grad(false);
  const auto x = torch::zeros({1, 3, image_size, image_size});
  at::Tensor z, back;
  try {
    z = encode(x);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": encode(x [1, 3, " + std::to_string(image_size) + ", " +
                                std::to_string(image_size) + "] in [-1, 1]) failed: " + first_line(e.what()));
  }
  if (z.dim() != 4 || z.size(0) != 1)
    throw std::invalid_argument(path + ": encode returned shape " + c10::str(z.sizes()) +
                                " for an image [1, 3, S, S]; expected latents [1, C, h, w]");
  latent_ = {z.size(1), z.size(2), z.size(3)};
  try {
    back = decode(z);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": decode(z " + c10::str(z.sizes()) + ") failed: " + first_line(e.what()));
  }
  if (back.sizes() != x.sizes())
    throw std::invalid_argument(path + ": decode returned shape " + c10::str(back.sizes()) + " for latents " +
                                c10::str(z.sizes()) + "; expected the image's " + c10::str(x.sizes()));
}

// imprint's model range is [-2, 2], the file's pixels [-1, 1].
at::Tensor ScriptedAutoencoder::encode(const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  return module_.get_method("encode")({x / 2}).toTensor() * scale_;
}

at::Tensor ScriptedAutoencoder::decode(const at::Tensor& z) {
  torch::NoGradGuard no_grad;
  return module_.get_method("decode")({z / scale_}).toTensor() * 2;
}

std::vector<int64_t> ScriptedAutoencoder::latent_shape(int64_t image_size) const {
  if (image_size != image_size_)
    throw std::invalid_argument("autoencoder: checked for images of side " + std::to_string(image_size_) +
                                ", asked for " + std::to_string(image_size));
  return latent_;
}

void ScriptedAutoencoder::to(torch::Device device, bool non_blocking) {
  Autoencoder::to(device, non_blocking);
  module_.to(device, non_blocking);
}

}  // namespace imprint
