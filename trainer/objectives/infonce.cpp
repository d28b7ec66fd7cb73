#include "trainer/objectives/infonce.h"

#include "collectives/all_gather_autograd.h"
#include "config/section.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/normalization.h>

#include <cmath>

namespace imprint {

namespace F = torch::nn::functional;

namespace {
const Section<InfoNCEOptions>& infonce_keys() {
  using O = InfoNCEOptions;
  static const auto section =
      Section<O>("objective.infonce")
          .real("temperature", &O::temperature, 0.07, Range::closed(0, 10).open_below(),
                "InfoNCE softmax temperature (initial value if learned).")
          .flag("learn_temperature", &O::learn_temperature, true,
                "Learn the InfoNCE temperature as a parameter (clamped to >= 0.01).", KeyRole::Shaping);
  return section;
}
}  // namespace

ObjectiveInfo infonce_objective() {
  ObjectiveInfo info;
  info.name = "infonce";
  info.summary = "symmetric InfoNCE (reference vs target pooled embeddings, negatives from the global batch)";
  info.default_weight = 1;
  info.keys = infonce_keys().keys();
  info.make = [](const ObjectiveContext& c) { return std::make_shared<InfoNCE>(infonce_keys().read(c.values)); };
  return info;
}

InfoNCE::InfoNCE(const InfoNCEOptions& o) {
  auto init = torch::full({}, std::log(1.0 / o.temperature));
  if (o.learn_temperature) {
    log_scale_ = register_parameter("log_scale", init);
  } else {
    log_scale_ = register_buffer("log_scale", init);
  }
}

double InfoNCE::temperature() const { return std::exp(-log_scale_.item<double>()); }

torch::Tensor InfoNCE::loss(const Conditioning& reference, const Conditioning& target, Communicator* comm) {
  auto r = F::normalize(reference.pooled, F::NormalizeFuncOptions().dim(1));
  auto t = F::normalize(target.pooled, F::NormalizeFuncOptions().dim(1));
  torch::Tensor all_r = r, all_t = t;
  int64_t offset = 0;
  if (comm && comm->size() > 1) {
    all_r = all_gather_with_grad(r, *comm);
    all_t = all_gather_with_grad(t, *comm);
    offset = comm->rank() * r.size(0);
  }
  // The scale is capped at 100 (temperature 0.01) as in CLIP: beyond it training becomes unstable.
  const auto scale = log_scale_.clamp_max(std::log(100.0)).exp();
  auto ref_to_tgt = torch::matmul(r, all_t.t()) * scale;  // [B_local, B_global]
  auto tgt_to_ref = torch::matmul(t, all_r.t()) * scale;
  auto labels =
      torch::arange(offset, offset + r.size(0), torch::TensorOptions().dtype(torch::kLong).device(r.device()));
  return 0.5 * (F::cross_entropy(ref_to_tgt, labels) + F::cross_entropy(tgt_to_ref, labels));
}

ObjectiveOutput InfoNCE::compute(const TrainBatch&, const EncodedBatch& encoded, Communicator& comm) {
  return ObjectiveOutput(loss(encoded.view(0), encoded.view(1), &comm),
                         {{"temperature", (-log_scale_).exp().detach()}});
}

}  // namespace imprint
