#include "trainer/objectives/ge2e.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/normalization.h>

#include "collectives/all_gather_autograd.h"
#include "config/section.h"

namespace imprint {

namespace F = torch::nn::functional;

namespace {
const Section<Ge2eOptions>& ge2e_keys() {
  using O = Ge2eOptions;
  static const auto section =
      Section<O>("objective.ge2e")
          .choice(
              "form", &O::contrast, {{"softmax", false}, {"contrast", true}}, false,
              "GE2E's loss form: softmax over centroids, or contrast (own centroid's sigmoid vs the hardest other).",
              KeyRole::Shaping)
          .real("init_scale", &O::init_scale, 10, Range::closed(0, 1e4).open_below(),
                "Initial w of S = w cos + b (learned, kept > 0).")
          .real("init_bias", &O::init_bias, -5, Range::closed(-1e4, 1e4),
                "Initial b of S = w cos + b (learned in the contrast form; it cancels in the softmax form and stays "
                "fixed).");
  return section;
}
}  // namespace

ObjectiveInfo ge2e_objective() {
  ObjectiveInfo info;
  info.name = "ge2e";
  info.reads_every_view = true;
  info.summary =
      "the generalised end-to-end loss (trainer/objectives/ge2e.h): every view against each "
      "identity's centroid in the global batch (its own centroid leaves it out)";
  info.keys = ge2e_keys().keys();
  info.make = [](const ObjectiveContext& c) { return std::make_shared<Ge2e>(ge2e_keys().read(c.values)); };
  info.example = {"train.samples_per_identity=3"};
  return info;
}

Ge2e::Ge2e(const Ge2eOptions& o) : contrast_(o.contrast) {
  const double init_scale = o.init_scale, init_bias = o.init_bias;
  scale_ = register_parameter("scale", torch::full({}, init_scale));
  // b cancels in the softmax: as a parameter its gradient would be rounding noise that Adam scales up.
  if (contrast_)
    bias_ = register_parameter("bias", torch::full({}, init_bias));
  else
    bias_ = register_buffer("bias", torch::full({}, init_bias));
}

torch::Tensor Ge2e::loss(const torch::Tensor& views, Communicator* comm) const {
  const int64_t rows = views.size(0), k = views.size(1);
  const auto e = F::normalize(views.to(torch::kFloat), F::NormalizeFuncOptions().dim(2));  // [B, K, D]
  torch::Tensor all = e;
  int64_t first = 0;  // this rank's first identity among the gathered ones
  if (comm && comm->size() > 1) {
    all = all_gather_with_grad(e, *comm);
    first = comm->rank() * rows;
  }
  const auto sums = all.sum(1);  // [P, D]
  const auto centroids = F::normalize(sums / k, F::NormalizeFuncOptions().dim(1));
  const auto own_sum = sums.slice(0, first, first + rows).unsqueeze(1);                            // [B, 1, D]
  const auto exclusive = F::normalize((own_sum - e) / (k - 1), F::NormalizeFuncOptions().dim(2));  // [B, K, D]
  auto cosine = torch::matmul(e.reshape({rows * k, -1}), centroids.t());                           // [n, P]
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(e.device());
  const auto own = (first + torch::arange(rows * k, opts).div(k, "floor")).view({-1, 1});  // [n, 1] its identity
  const auto own_cosine = (e * exclusive).sum(2).reshape({-1, 1});                         // [n, 1]
  cosine = cosine.scatter(1, own, own_cosine);
  const auto s = scale_.clamp_min(1e-6) * cosine + bias_;
  if (!contrast_) return (s.logsumexp(1) - s.gather(1, own).squeeze(1)).mean();
  const auto sig = torch::sigmoid(s);
  const auto others = sig.scatter(1, own, 0.0);  // sigmoid > 0, so 0 never wins the max
  return (1 - sig.gather(1, own).squeeze(1) + std::get<0>(others.max(1))).mean();
}

ObjectiveOutput Ge2e::compute(const TrainBatch&, const EncodedBatch& encoded, Communicator& comm) {
  return ObjectiveOutput(loss(encoded.pooled, &comm), {{"ge2e_scale", scale_.detach().clamp_min(1e-6)}});
}

}  // namespace imprint
