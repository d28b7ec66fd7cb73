#include "trainer/objectives/supcon.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/normalization.h>

#include <limits>

#include "collectives/all_gather_autograd.h"
#include "config/section.h"

namespace imprint {

namespace F = torch::nn::functional;

namespace {
struct SupConOptions {
  double temperature = 0.1;
};
const Section<SupConOptions>& supcon_keys() {
  static const auto section = Section<SupConOptions>("objective.supcon")
                                  .real("temperature", &SupConOptions::temperature, 0.1,
                                        Range::closed(0, 10).open_below(), "Softmax temperature of supcon.");
  return section;
}
}  // namespace

ObjectiveInfo supcon_objective() {
  ObjectiveInfo info;
  info.name = "supcon";
  info.reads_every_view = true;
  info.summary =
      "the supervised contrastive loss (trainer/objectives/supcon.h): every view of the P x K batch "
      "against the other K-1 views of its identity, negatives from the global batch";
  info.keys = supcon_keys().keys();
  info.make = [](const ObjectiveContext& c) {
    return std::make_shared<SupCon>(supcon_keys().read(c.values).temperature);
  };
  info.example = {"train.samples_per_identity=3"};
  return info;
}

SupCon::SupCon(double temperature) : temperature_(temperature) {}

torch::Tensor SupCon::loss(const torch::Tensor& views, Communicator* comm) const {
  const int64_t rows = views.size(0), k = views.size(1);
  const auto z = F::normalize(views.to(torch::kFloat).reshape({rows * k, -1}), F::NormalizeFuncOptions().dim(1));
  torch::Tensor all = z;
  int64_t first = 0;  // this rank's first view in the gathered order (rank, row, view)
  if (comm && comm->size() > 1) {
    all = all_gather_with_grad(z, *comm);
    first = comm->rank() * rows * k;
  }
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(z.device());
  const auto self = torch::arange(first, first + rows * k, opts);  // [n] each anchor's own column
  auto logits = torch::matmul(z, all.t()) / temperature_;          // [n, N]
  logits = logits.scatter(1, self.view({-1, 1}), -std::numeric_limits<float>::infinity());
  const auto log_prob = logits - logits.logsumexp(1, /*keepdim=*/true);
  // Positives of anchor (row r, view v): columns (first/k + r) * k + u for the K-1 views u != v.
  const auto row_start = self.div(k, "floor") * k;                                               // [n]
  const auto v = self % k;                                                                       // [n]
  const auto u = torch::arange(k - 1, opts).view({1, -1});                                       // [1, K-1]
  const auto positives = row_start.view({-1, 1}) + u + (u >= v.view({-1, 1})).to(torch::kLong);  // skip u == v
  return -log_prob.gather(1, positives).mean();
}

ObjectiveOutput SupCon::compute(const TrainBatch&, const EncodedBatch& encoded, Communicator& comm) {
  return ObjectiveOutput(loss(encoded.pooled, &comm));
}

}  // namespace imprint
