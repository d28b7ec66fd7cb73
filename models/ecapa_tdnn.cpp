#include "models/ecapa_tdnn.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/normalization.h>

#include "models/conv_block.h"

namespace imprint {

namespace nn = torch::nn;

namespace {
// Conv1d (no bias: the norm after it cancels one) -> ReLU -> GroupNorm, ECAPA's unit with GN for BN.
nn::Sequential conv_relu_norm(int64_t in, int64_t out, int64_t kernel, int64_t dilation) {
  nn::Sequential s;
  s->push_back(nn::Conv1d(
      nn::Conv1dOptions(in, out, kernel).dilation(dilation).padding(dilation * (kernel - 1) / 2).bias(false)));
  s->push_back(nn::ReLU());
  s->push_back(nn::GroupNorm(nn::GroupNormOptions(std::min<int64_t>(8, out), out)));
  return s;
}
}  // namespace

SeRes2BlockImpl::SeRes2BlockImpl(int64_t c, int64_t dilation, int64_t scale) : scale_(scale) {
  TORCH_CHECK(c % scale == 0, "ECAPA-TDNN: channels ", c, " must divide into ", scale, " Res2Net groups");
  in_ = register_module("conv_in", conv_relu_norm(c, c, 1, 1));  // not "in": a Python keyword breaks the archive
  res2_ = register_module("res2", nn::ModuleList());
  for (int64_t i = 1; i < scale; ++i) res2_->push_back(conv_relu_norm(c / scale, c / scale, 3, dilation));
  out_ = register_module("conv_out", conv_relu_norm(c, c, 1, 1));
  se_down_ = register_module("se_down", nn::Linear(c, std::max<int64_t>(4, c / 8)));
  se_up_ = register_module("se_up", nn::Linear(std::max<int64_t>(4, c / 8), c));
}

torch::Tensor SeRes2BlockImpl::forward(const torch::Tensor& x) {
  auto h = in_->forward(x);
  // Res2Net: group 0 passes through; group i is convolved after adding group i-1's output (growing receptive
  // field within one block).
  auto groups = h.chunk(scale_, 1);
  std::vector<torch::Tensor> outs{groups[0]};
  torch::Tensor prev;
  for (int64_t i = 1; i < scale_; ++i) {
    auto in = i == 1 ? groups[i] : groups[i] + prev;
    prev = res2_[i - 1]->as<nn::Sequential>()->forward(in);
    outs.push_back(prev);
  }
  h = out_->forward(torch::cat(outs, 1));
  // Squeeze-excitation: a per-channel gate from the utterance mean.
  auto gate = torch::sigmoid(se_up_->forward(torch::relu(se_down_->forward(h.mean(2)))));
  return x + h * gate.unsqueeze(2);
}

EcapaTdnn::EcapaTdnn(const EncoderSpec& spec) {
  const int64_t c = 8 * spec.width;
  front_ = register_module("front", LogMel(spec.sample_rate, spec.n_fft, spec.hop, spec.n_mels));
  stem_ = register_module("stem", conv_relu_norm(spec.n_mels, c, 5, 1));
  b1_ = register_module("block1", SeRes2Block(c, 2));
  b2_ = register_module("block2", SeRes2Block(c, 3));
  b3_ = register_module("block3", SeRes2Block(c, 4));
  aggregate_ = register_module("aggregate", conv_relu_norm(3 * c, 3 * c, 1, 1));
  // Attentive statistics pooling: frame weights per channel from the frames and the utterance's mean/std.
  nn::Sequential att;
  att->push_back(nn::Conv1d(nn::Conv1dOptions(9 * c, c / 2, 1)));
  att->push_back(nn::Tanh());
  att->push_back(nn::Conv1d(nn::Conv1dOptions(c / 2, 3 * c, 1)));
  attention_ = register_module("attention", att);
  stats_ = register_module("stats", nn::Linear(6 * c, 3 * c));
  head_ = register_module("head", ConditioningHead(3 * c, spec));
}

Conditioning EcapaTdnn::encode(const torch::Tensor& audio) {
  torch::Tensor mel;
  {
    torch::NoGradGuard no_grad;  // a fixed front end
    mel = front_(audio);
    mel = mel - mel.mean(-1, /*keepdim=*/true);
  }
  auto x = stem_->forward(mel);
  auto h1 = b1_->forward(x);
  auto h2 = b2_->forward(h1);
  auto h3 = b3_->forward(h2);
  auto frames = aggregate_->forward(torch::cat({h1, h2, h3}, 1));  // [B, 3C, T]
  // expand_as, not a size read here: `imprint export` traces this for any clip length.
  auto mean = frames.mean(2, /*keepdim=*/true), std = (frames.var(2, false, true) + 1e-5).sqrt();
  auto context = torch::cat({frames, mean.expand_as(frames), std.expand_as(frames)}, 1);
  auto w = torch::softmax(attention_->forward(context), 2);  // [B, 3C, T]
  auto mu = (frames * w).sum(2);
  auto sigma = ((frames * frames * w).sum(2) - mu * mu).clamp_min(1e-5).sqrt();
  auto pooled_stats = stats_->forward(torch::cat({mu, sigma}, 1)).unsqueeze(1);                  // [B, 1, 3C]
  auto tokens_in = torch::cat({with_contiguous_grad(frames).transpose(1, 2), pooled_stats}, 1);  // [B, T+1, 3C]
  return head_(tokens_in);
}

}  // namespace imprint
