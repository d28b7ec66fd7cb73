#include "trainer/objectives/triplet.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/normalization.h>

#include <limits>

#include "collectives/all_gather_autograd.h"
#include "config/section.h"

namespace imprint {

namespace F = torch::nn::functional;

namespace {
struct TripletOptions {
  double margin = 0.2;
};
const Section<TripletOptions>& triplet_keys() {
  static const auto section = Section<TripletOptions>("objective.triplet")
                                  .real("margin", &TripletOptions::margin, 0.2, Range::closed(0, 2),
                                        "Triplet margin between the hardest negative's and the hardest positive's "
                                        "distance (unit embeddings: distances lie in [0, 2]); 0: the soft margin "
                                        "log(1 + exp(d_ap - d_an)).");
  return section;
}
}  // namespace

ObjectiveInfo triplet_objective() {
  ObjectiveInfo info;
  info.name = "triplet";
  info.reads_every_view = true;
  info.summary =
      "the batch-hard triplet loss (trainer/objectives/triplet.h): every view's farthest view of its "
      "identity against its nearest view of another identity in the global batch";
  info.keys = triplet_keys().keys();
  info.make = [](const ObjectiveContext& c) { return std::make_shared<Triplet>(triplet_keys().read(c.values).margin); };
  info.example = {"train.samples_per_identity=3"};
  return info;
}

torch::Tensor Triplet::loss(const torch::Tensor& views, Communicator* comm, torch::Tensor* gap) const {
  const int64_t rows = views.size(0), k = views.size(1), n = rows * k;
  const auto z = F::normalize(views.to(torch::kFloat).reshape({n, -1}), F::NormalizeFuncOptions().dim(1));
  torch::Tensor all = z;
  int64_t first = 0;  // this rank's first view in the gathered order (rank, row, view)
  if (comm && comm->size() > 1) {
    all = all_gather_with_grad(z, *comm);
    first = comm->rank() * n;
  }
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(z.device());
  const auto anchor = torch::arange(first, first + n, opts).view({-1, 1});  // [n, 1] global view index
  const auto column = torch::arange(all.size(0), opts).view({1, -1});       // [1, N]
  // Squared distance of unit vectors is 2 - 2 cos; clamped so the square root has a gradient at 0.
  const auto distance = (2 - 2 * torch::matmul(z, all.t())).clamp_min(1e-12).sqrt();  // [n, N]
  const auto same = anchor.div(k, "floor") == column.div(k, "floor");
  const auto positive = same & (anchor != column);
  const double inf = std::numeric_limits<float>::infinity();
  const auto hardest_positive = std::get<0>(distance.masked_fill(~positive, -inf).max(1));
  const auto hardest_negative = std::get<0>(distance.masked_fill(same, inf).min(1));
  const auto diff = hardest_positive - hardest_negative;
  if (gap) *gap = (-diff).mean().detach();
  return (margin_ > 0 ? (diff + margin_).clamp_min(0) : F::softplus(diff)).mean();
}

ObjectiveOutput Triplet::compute(const TrainBatch&, const EncodedBatch& encoded, Communicator& comm) {
  torch::Tensor gap;
  auto l = loss(encoded.pooled, &comm, &gap);
  return ObjectiveOutput(l, {{"triplet_gap", gap}});
}

}  // namespace imprint
