#include "trainer/objectives/aam_softmax.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/normalization.h>
#include <torch/nn/init.h>

#include <cmath>

namespace imprint {

namespace F = torch::nn::functional;

AamOptions aam_options(const Config& c) {
  AamOptions o;
  o.classes = c.get_int("objective.aam.classes");
  o.embed_dim = c.get_int("model.embed_dim");
  o.sub_centers = c.get_int("objective.aam.sub_centers");
  o.margin_warmup_steps = c.get_int("objective.aam.margin_warmup_steps");
  o.scale = c.get_float("objective.aam.scale");
  o.margin = c.get_float("objective.aam.margin");
  return o;
}

AamSoftmax::AamSoftmax(const AamOptions& o) : options_(o) {
  if (o.classes < 2)
    throw ConfigError("objective.aam.classes: is " + std::to_string(o.classes) +
                      "; the AAM-softmax objective needs the dataset's identity count (0 takes it from the data)");
  centers_ = register_parameter("centers", torch::empty({o.classes * o.sub_centers, o.embed_dim}));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(centers_);
}

double AamSoftmax::margin_at(int64_t step) const {
  if (options_.margin_warmup_steps <= 0) return options_.margin;
  return options_.margin * std::min(1.0, static_cast<double>(step) / static_cast<double>(options_.margin_warmup_steps));
}

torch::Tensor AamSoftmax::loss(const torch::Tensor& embeddings, const torch::Tensor& labels, int64_t step,
                               torch::Tensor* accuracy) const {
  const auto e = F::normalize(embeddings.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  const auto w = F::normalize(centers_, F::NormalizeFuncOptions().dim(1));
  auto cosine = torch::matmul(e, w.t());  // [N, classes * K]
  if (options_.sub_centers > 1)
    cosine = std::get<0>(cosine.view({e.size(0), options_.classes, options_.sub_centers}).max(2));
  const double m = margin_at(step);
  const auto target = labels.to(cosine.device()).view({-1, 1});
  const auto cos_y = cosine.gather(1, target);
  // cos(theta + m), with ArcFace's fallback past theta + m = pi (keeps the logit decreasing in theta).
  const auto sin_y = (1 - cos_y * cos_y).clamp(1e-7, 1).sqrt();
  auto with_margin = cos_y * std::cos(m) - sin_y * std::sin(m);
  with_margin = torch::where(cos_y > std::cos(M_PI - m), with_margin, cos_y - std::sin(M_PI - m) * m);
  const auto logits = options_.scale * cosine.scatter(1, target, with_margin);
  if (accuracy) *accuracy = (cosine.argmax(1) == target.view({-1})).to(torch::kFloat).mean().detach();
  return F::cross_entropy(logits, target.view({-1}));
}

ObjectiveOutput AamSoftmax::compute(const TrainBatch& batch, const Conditioning& reference,
                                    const Conditioning& target, Communicator&) {
  const auto embeddings = torch::cat({reference.pooled, target.pooled}, 0);
  const auto labels = torch::cat({batch.identity, batch.identity}, 0);
  torch::Tensor accuracy;
  ObjectiveOutput out;
  out.loss = loss(embeddings, labels, batch.step, &accuracy);
  out.logged.emplace_back("aam_margin", torch::full({}, margin_at(batch.step)));
  out.logged.emplace_back("aam_train_accuracy", accuracy);
  return out;
}

}  // namespace imprint
