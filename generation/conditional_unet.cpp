#include "generation/conditional_unet.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>

#include <cmath>
#include <stdexcept>

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

// Sinusoidal features of the timestep, as in DDPM / the Transformer's positions.
torch::Tensor timestep_features(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  // 0 .. half-1 made from t without naming a device: a trace (the TorchScript export) would otherwise fix the
  // device it was traced on (arange with t's options) and the file would not run elsewhere. Exact in float.
  const auto index = t.new_ones({half}, torch::TensorOptions().dtype(torch::kFloat)).cumsum(0) - 1;
  auto freqs = torch::exp(index * (-std::log(10000.0) / half));
  auto args = t.to(torch::kFloat).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::sin(args), torch::cos(args)}, 1);
}

torch::Tensor upsample2(const torch::Tensor& x) {
  return F::interpolate(x,
                        F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
}

}  // namespace

UnetResBlockImpl::UnetResBlockImpl(int64_t in, int64_t out, int64_t cond_dim) {
  norm1_ = register_module("norm1", group_norm(in));
  conv1_ = register_module("conv1", conv3(in, out));
  cond_ = register_module("cond", torch::nn::Linear(cond_dim, out));
  norm2_ = register_module("norm2", group_norm(out));
  conv2_ = register_module("conv2", conv3(out, out));
  if (in != out) skip_ = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
}

torch::Tensor UnetResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cond) {
  auto h = conv1_(F::silu(norm1_(x)));
  h = h + cond_(cond).unsqueeze(-1).unsqueeze(-1);
  h = conv2_(F::silu(norm2_(h)));
  return (skip_ ? skip_(x) : x) + h;
}

DecoupledCrossAttentionImpl::DecoupledCrossAttentionImpl(int64_t channels, int64_t context_dim, int64_t id_dim,
                                                         int64_t heads)
    : heads_(channels % heads == 0 ? heads : 1) {
  norm_ = register_module("norm", group_norm(channels));
  // No key bias (softmax ignores it, see models/token_resampler.cpp) and no value bias: zeroed identity tokens
  // then contribute exactly nothing, which is how the identity condition is dropped.
  const auto nb = [](int64_t i, int64_t o) { return torch::nn::Linear(torch::nn::LinearOptions(i, o).bias(false)); };
  to_q_ = register_module("to_q", nb(channels, channels));
  to_k_ = register_module("to_k", nb(context_dim, channels));
  to_v_ = register_module("to_v", nb(context_dim, channels));
  adapter_k_ = register_module("adapter_k", nb(id_dim, channels));
  adapter_v_ = register_module("adapter_v", nb(id_dim, channels));
  to_out_ = register_module("to_out", torch::nn::Linear(channels, channels));
  init_adapter_from_content();
}

void DecoupledCrossAttentionImpl::init_adapter_from_content() {
  // Only when the identity tokens are as wide as the content tokens (always with content labels, whose tokens
  // have the identity width); otherwise the adapter keeps its own initialisation.
  if (adapter_k_->weight.sizes() != to_k_->weight.sizes()) return;
  torch::NoGradGuard no_grad;
  adapter_k_->weight.copy_(to_k_->weight);
  adapter_v_->weight.copy_(to_v_->weight);
}

torch::Tensor DecoupledCrossAttentionImpl::attend(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v) const {
  const int64_t hd = q.size(-1) / heads_;
  auto split = [&](const torch::Tensor& x) { return x.unflatten(-1, {heads_, hd}).transpose(1, 2); };  // [B,h,N,hd]
  auto w = torch::softmax(torch::matmul(split(q), split(k).transpose(-2, -1)) / std::sqrt(double(hd)), -1);
  return torch::matmul(w, split(v)).transpose(1, 2).flatten(2);  // [B,N,C]
}

torch::Tensor DecoupledCrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                                   const torch::Tensor& id_tokens, double id_scale,
                                                   const torch::Tensor& scale_tensor) {
  // No contiguous-gradient hook here (cf. models/conv_block.h): tests/test_generative.cpp
  // (ConditionalUnet.Float32GradientsMatchFloat64) shows float32 gradients agree with float64 without it.
  auto h = norm_(x).flatten(2).transpose(1, 2);  // [B, HW, C]
  auto q = to_q_(h);
  auto out = attend(q, to_k_(context), to_v_(context));
  if (scale_tensor.defined())
    out = out + scale_tensor.to(out.scalar_type()) * attend(q, adapter_k_(id_tokens), adapter_v_(id_tokens));
  else if (id_scale != 0)
    out = out + id_scale * attend(q, adapter_k_(id_tokens), adapter_v_(id_tokens));
  return x + to_out_(out).transpose(1, 2).reshape_as(x);
}

ConditionalUnet::ConditionalUnet(const GeneratorSpec& spec) : spec_(spec), cond_dim_(4 * spec.width) {
  if (spec.height() % 4 != 0 || spec.width_px() % 4 != 0)
    throw std::invalid_argument("generator: the sample's sides (" + std::to_string(spec.height()) + " x " +
                                std::to_string(spec.width_px()) + ") must be multiples of 4");
  const int64_t w = spec.width, w2 = 2 * spec.width, d = spec.id_dim;
  const bool tokens = spec.context_dim > 0;
  const int64_t c = tokens ? spec.context_dim : d;  // what the content branch of the attention reads
  time1_ = register_module("time1", torch::nn::Linear(w, cond_dim_));
  time2_ = register_module("time2", torch::nn::Linear(cond_dim_, cond_dim_));
  if (tokens) {
    content_pool_ = register_module("content_pool", torch::nn::Linear(spec.context_dim, cond_dim_));
  } else {
    content_ = register_module("content", torch::nn::Embedding(spec.content_classes + 1, cond_dim_));
    context_ = register_module("context", torch::nn::Embedding(spec.content_classes + 1, kContextTokens * d));
  }
  in_ = register_module("conv_in", conv3(spec.channels, w));
  enc0_ = register_module("enc0", UnetResBlock(w, w, cond_dim_));
  down1_ = register_module("down1", conv3(w, w2, 2));
  enc1_ = register_module("enc1", UnetResBlock(w2, w2, cond_dim_));
  att1_ = register_module("att1", DecoupledCrossAttention(w2, c, d, spec.heads));
  down2_ = register_module("down2", conv3(w2, w2, 2));
  enc2_ = register_module("enc2", UnetResBlock(w2, w2, cond_dim_));
  att2_ = register_module("att2", DecoupledCrossAttention(w2, c, d, spec.heads));
  mid1_ = register_module("mid1", UnetResBlock(w2, w2, cond_dim_));
  att_mid_ = register_module("att_mid", DecoupledCrossAttention(w2, c, d, spec.heads));
  mid2_ = register_module("mid2", UnetResBlock(w2, w2, cond_dim_));
  dec2_ = register_module("dec2", UnetResBlock(2 * w2, w2, cond_dim_));
  att_dec2_ = register_module("att_dec2", DecoupledCrossAttention(w2, c, d, spec.heads));
  up2_ = register_module("up2", conv3(w2, w2));
  dec1_ = register_module("dec1", UnetResBlock(2 * w2, w2, cond_dim_));
  att_dec1_ = register_module("att_dec1", DecoupledCrossAttention(w2, c, d, spec.heads));
  up1_ = register_module("up1", conv3(w2, w));
  dec0_ = register_module("dec0", UnetResBlock(2 * w, w, cond_dim_));
  out_norm_ = register_module("out_norm", group_norm(w));
  out_ = register_module("conv_out", conv3(w, spec.channels));
  torch::NoGradGuard no_grad;  // the untrained model predicts 0: a stable start (as in DDPM/ADM code)
  out_->weight.zero_();
  out_->bias.zero_();
}

torch::Tensor ConditionalUnet::predict(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& content,
                                       const torch::Tensor& id_tokens, double id_scale) {
  return predict_impl(x_t, t, content, id_tokens, id_scale, {});
}

torch::Tensor ConditionalUnet::predict_scaled(const torch::Tensor& x_t, const torch::Tensor& t,
                                              const torch::Tensor& content, const torch::Tensor& id_tokens,
                                              const torch::Tensor& id_scale) {
  return predict_impl(x_t, t, content, id_tokens, 1.0, id_scale);
}

torch::Tensor ConditionalUnet::predict_impl(const torch::Tensor& x_t, const torch::Tensor& t,
                                            const torch::Tensor& content, const torch::Tensor& id_tokens,
                                            double id_scale, const torch::Tensor& s) {
  TORCH_CHECK(x_t.dim() == 4 && x_t.size(1) == spec_.channels && x_t.size(2) == spec_.height() &&
                  x_t.size(3) == spec_.width_px(),
              "generator was built for [B, ", spec_.channels, ", ", spec_.height(), ", ", spec_.width_px(),
              "] samples, got ", x_t.sizes());
  auto cond = time2_(F::silu(time1_(timestep_features(t, spec_.width).to(x_t.scalar_type()))));
  torch::Tensor ctx;
  if (spec_.context_dim > 0) {
    TORCH_CHECK(content.dim() == 3 && content.size(2) == spec_.context_dim,
                "generator was built for content tokens [B, L, ", spec_.context_dim, "], got ", content.sizes());
    ctx = content.to(x_t.scalar_type());
    cond = cond + content_pool_(ctx.mean(1));
  } else {
    TORCH_CHECK(content.dim() == 1, "generator was built for content labels [B], got ", content.sizes());
    cond = cond + content_(content);
    ctx = context_(content).unflatten(1, {kContextTokens, spec_.id_dim});  // [B, L, D]
  }
  cond = F::silu(cond);
  auto h0 = enc0_(in_(x_t), cond);
  auto h1 = att1_(enc1_(down1_(h0), cond), ctx, id_tokens, id_scale, s);
  auto h2 = att2_(enc2_(down2_(h1), cond), ctx, id_tokens, id_scale, s);
  auto m = mid2_(att_mid_(mid1_(h2, cond), ctx, id_tokens, id_scale, s), cond);
  auto d2 = att_dec2_(dec2_(torch::cat({m, h2}, 1), cond), ctx, id_tokens, id_scale, s);
  auto d1 = att_dec1_(dec1_(torch::cat({up2_(upsample2(d2)), h1}, 1), cond), ctx, id_tokens, id_scale, s);
  auto d0 = dec0_(torch::cat({up1_(upsample2(d1)), h0}, 1), cond);
  return out_(F::silu(out_norm_(d0)));
}

bool ConditionalUnet::is_adapter_parameter(const std::string& name) const {
  return name.find("adapter") != std::string::npos;
}

void ConditionalUnet::init_adapter_from_content() {
  for (auto* a : {&att1_, &att2_, &att_mid_, &att_dec2_, &att_dec1_}) (*a)->init_adapter_from_content();
}

std::shared_ptr<Generator> make_generator(const GeneratorSpec& spec) { return std::make_shared<ConditionalUnet>(spec); }

}  // namespace imprint
