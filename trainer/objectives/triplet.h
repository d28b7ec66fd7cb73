// The batch-hard triplet loss (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss"; FaceNet's
// margin): every view of the P x K batch is an anchor; its HARDEST positive is the farthest other view of its
// identity and its hardest negative the nearest view of any other identity, both over the GLOBAL batch:
//   L_a = max(0, d(a, p*) - d(a, n*) + margin)       margin > 0
//   L_a = log(1 + exp(d(a, p*) - d(a, n*)))           margin = 0 (the paper's soft margin)
// with d the Euclidean distance of L2-normalised pooled embeddings (sqrt(2 - 2 cos)). Views are
// all-gathered with a backward (as in supcon), each rank scores its own anchors against every rank's views,
// and the gradient average over ranks equals one rank's gradient on the whole batch. K = 2 works (one
// positive per anchor); K > 2 lets the hardest positive be chosen.
#pragma once
#include "trainer/objectives/objective_registry.h"

namespace imprint {

// Its registry entry (objective_registry.h): keys objective.triplet.*.
ObjectiveInfo triplet_objective();

class Triplet final : public Objective {
 public:
  explicit Triplet(double margin) : margin_(margin) {}
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  int64_t views_read(int64_t k) const override { return k; }
  // The loss of this rank's views [B, K, D] (identities distinct across rows and ranks); `gap` (if given)
  // receives the mean d(a, n*) - d(a, p*), detached.
  torch::Tensor loss(const torch::Tensor& views, Communicator* comm = nullptr, torch::Tensor* gap = nullptr) const;

 private:
  double margin_;
};

}  // namespace imprint
