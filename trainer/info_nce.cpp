#include "trainer/info_nce.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/normalization.h>

#include <cmath>

namespace imprint {

namespace F = torch::nn::functional;

InfoNCEImpl::InfoNCEImpl(double temperature, bool learn_temperature) {
  auto init = torch::full({}, std::log(1.0 / temperature));
  if (learn_temperature) {
    log_scale_ = register_parameter("log_scale", init);
  } else {
    log_scale_ = register_buffer("log_scale", init);
  }
}

double InfoNCEImpl::temperature() const { return std::exp(-log_scale_.item<double>()); }

torch::Tensor InfoNCEImpl::forward(const Conditioning& reference, const Conditioning& target) {
  auto r = F::normalize(reference.pooled, F::NormalizeFuncOptions().dim(1));
  auto t = F::normalize(target.pooled, F::NormalizeFuncOptions().dim(1));
  // The scale is capped at 100 (temperature 0.01) as in CLIP: beyond it training becomes unstable.
  auto logits = torch::matmul(r, t.t()) * log_scale_.clamp_max(std::log(100.0)).exp();
  auto labels = torch::arange(logits.size(0), torch::TensorOptions().dtype(torch::kLong).device(logits.device()));
  return 0.5 * (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels));
}

}  // namespace imprint
